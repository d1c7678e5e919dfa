"""Forms of the tickets: open and edit one, move it, assign it (one or many), filter the queues."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.concurrency import VersionedFormMixin
from crm.core.forms_utils import FastSelect, IdField, fast_widget, multi_choice
from crm.core.models import User
from crm.core.text import parse_id
from crm.core.widgets import RecordPicker
from support.models import Priority, Ticket
from support.permissions import account_ticketable_q, can_work_tickets, support_agents
from support.selectors.tickets import QUEUES

QUEUE_LABELS = {
    "": _("Abiertas"),
    "mine": _("Mías"),
    "unassigned": _("Sin asignar"),
    "team": _("Mi equipo"),
    "soon": _("Vencen pronto"),
    "breached": _("Vencidas"),
    "waiting": _("En espera del cliente"),
    "all": _("Todas"),
}
# The queues by assignee are support's own; whoever only reads tickets does not see them.
WORKER_QUEUES = ("mine", "unassigned", "team")


def queues_for(user: User) -> list[tuple[str, str]]:
    worker = can_work_tickets(user)
    return [
        (queue, QUEUE_LABELS[queue]) for queue in QUEUES if worker or queue not in WORKER_QUEUES
    ]


def _account_label(value) -> str:
    account = Account.objects.filter(pk=value).only("name").first()
    return account.name if account else ""


def _agent_label(user: User) -> str:
    return str(user)


def _date_input() -> forms.DateInput:
    return forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
    )


def contacts_of(account_id) -> QuerySet[Contact]:
    account_id = parse_id(account_id)
    if account_id is None:
        return Contact.objects.none()
    return Contact.objects.filter(account_id=account_id, archived_at__isnull=True).order_by(
        "last_name", "first_name", "id"
    )


class TicketForm(forms.ModelForm):
    """Open a ticket: for support any customer, for a rep or a manager one of theirs."""

    class Meta:
        model = Ticket
        fields = [
            "account",
            "contact",
            "subject",
            "description",
            "category",
            "channel",
            "priority",
            "assignee",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = Account.objects.filter(
            account_ticketable_q(user), archived_at__isnull=True
        )
        self.fields["account"].widget = RecordPicker(
            search_url=reverse_lazy("support:ticket-account-picker"), label_for=_account_label
        )
        self.fields["account"].error_messages["invalid_choice"] = _(
            "Elige una de las cuentas que llevas (o pide a soporte que abra la incidencia)."
        )
        account_id = (self.data.get("account") if self.is_bound else None) or self.initial.get(
            "account"
        )
        self.fields["contact"].queryset = contacts_of(account_id)
        self.fields["contact"].empty_label = "—"
        self.fields["contact"].label_from_instance = lambda contact: contact.full_name
        self.fields["contact"].widget.attrs["data-contact-options"] = reverse_lazy(
            "support:ticket-contact-options"
        )
        self.fields["contact"].help_text = _("Quien avisa, de la cuenta elegida.")
        self.fields["subject"].widget.attrs["autofocus"] = True
        worker = can_work_tickets(user)
        if worker:
            self.fields["assignee"].queryset = support_agents().order_by("first_name", "last_name")
            self.fields["assignee"].empty_label = _("— Sin asignar —")
            self.fields["assignee"].label_from_instance = _agent_label
            self.fields["assignee"].help_text = _("Vacío: queda en la cola «Sin asignar».")
        else:
            del self.fields["assignee"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Cliente"),
                Row(
                    Column("account", css_class="col-md-6"),
                    Column("contact", css_class="col-md-6"),
                ),
            ),
            Fieldset(
                _("Incidencia"),
                "subject",
                "description",
                Row(
                    Column("category", css_class="col-md-4"),
                    Column("channel", css_class="col-md-4"),
                    Column("priority", css_class="col-md-4"),
                ),
                *(["assignee"] if worker else []),
            ),
        )

    def clean(self):
        cleaned = super().clean()
        account, contact = cleaned.get("account"), cleaned.get("contact")
        if account and contact and contact.account_id != account.pk:
            self.add_error("contact", _("Ese contacto no es de la cuenta elegida."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "account": data["account"],
            "contact": data.get("contact"),
            "subject": data["subject"],
            "description": data.get("description", ""),
            "category": data["category"],
            "channel": data["channel"],
            "priority": data["priority"],
            "assignee": data.get("assignee"),
        }


class TicketEditForm(VersionedFormMixin, forms.ModelForm):
    """What support corrects on a ticket; the status, the assignee and the customer move apart."""

    class Meta:
        model = Ticket
        fields = ["subject", "description", "category", "channel", "priority"]
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].help_text = _(
            "Al cambiarla, los plazos del SLA se recalculan con la nueva prioridad."
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "subject",
            "description",
            Row(
                Column("category", css_class="col-md-4"),
                Column("channel", css_class="col-md-4"),
                Column("priority", css_class="col-md-4"),
            ),
        )


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(label=_("Nuevo estado"), choices=Ticket.Status.choices)
    resolution = forms.CharField(
        label=_("Resolución"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
        help_text=_("Qué se hizo para resolverla: la verá quien lea la incidencia después."),
    )
    note = forms.CharField(
        label=_("Nota del cambio (opcional)"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class AssignForm(forms.Form):
    """One ticket to one agent; empty: nobody (back to the unassigned queue)."""

    assignee = forms.ModelChoiceField(
        label=_("Asignar a"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("— Sin asignar —"),
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = support_agents().order_by("first_name", "last_name")


class IdListField(forms.Field):
    """The ids of the rows ticked in a list (?tickets=1&tickets=2)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        ids = {parse_id(v) for v in value}
        if None in ids:  # not a number, or one past any id (the database would refuse it)
            raise ValidationError(_("La selección de incidencias no es válida."))
        return sorted(ids)


class BulkAssignForm(AssignForm):
    tickets = IdListField(
        label=_("Incidencias"),
        error_messages={"required": _("Marca al menos una incidencia.")},
    )


class TicketFilterForm(forms.Form):
    """The filter bar of the queues (`ticket_list`'s filters)."""

    MORE = ("category", "channel", "created_from", "created_to")

    q = forms.CharField(label=_("Buscar"), required=False, max_length=100)
    status = multi_choice(_("Estado"), Ticket.Status.choices)
    priority = multi_choice(_("Prioridad"), Priority.choices)
    category = multi_choice(_("Categoría"), Ticket.Category.choices)
    channel = multi_choice(_("Canal"), Ticket.Channel.choices)
    assignee = forms.ModelChoiceField(
        label=_("Asignada a"),
        queryset=User.objects.none(),
        required=False,
        empty_label="—",
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    created_from = forms.DateField(label=_("Abierta desde"), required=False, widget=_date_input())
    created_to = forms.DateField(label=_("Abierta hasta"), required=False, widget=_date_input())
    account = IdField(required=False)
    contact = IdField(required=False)
    queue = forms.ChoiceField(
        required=False, choices=[(q, q) for q in QUEUES], widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The search box and the hidden ids drawn in Python (crm.core.forms_utils), as the
        # selects and dates are: the bar is redrawn on every keystroke of live filtering.
        for field in self.fields.values():
            field.widget = fast_widget(field.widget)
        self.fields["q"].widget.attrs.update(
            {
                "class": "form-control form-control-sm",
                "placeholder": _("Número, asunto, cuenta o contacto"),
            }
        )
        # A search box (a phone shows its search key): the input's own type, not a second
        # `type` attribute after "text", which browsers ignore.
        self.fields["q"].widget.input_type = "search"
        self.fields["assignee"].queryset = support_agents().order_by("first_name", "last_name")
        for name in ("created_from", "created_to"):
            self.fields[name].input_formats = ["%Y-%m-%d", "%d/%m/%Y"]

    def more(self) -> list:
        return [self[name] for name in self.MORE]

    def more_active(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.MORE)

    @property
    def selected_queue(self) -> str:
        if not self.is_bound:
            return ""
        value = self.data.get("queue", "")
        return value if value in QUEUES else ""

    def filters(self) -> dict:
        """The cleaned filters for the selector; an invalid value is dropped, not an error."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if v not in (None, "", [], False) and k != "queue"
        }
        if text := data.pop("q", ""):
            data["text"] = text
        return data


def ticket_list_state(params) -> tuple[TicketFilterForm, dict, str]:
    """The ticket list's filter form, filters and queue from its query string (the list and
    its export read them alike)."""
    form = TicketFilterForm(params or None)
    filters = form.filters()
    queue = form.selected_queue
    # A customer's tickets ("Ver todo" from the sheet's panel): all of them, not only the open.
    if "queue" not in params and (filters.get("account") or filters.get("contact")):
        queue = "all"
    return form, filters, queue
