"""Forms of activities: the sheet's quick log, planning, editing, "done" and the agenda's owner."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.forms_utils import FastSelect
from crm.core.models import User
from crm.core.widgets import RecordPicker
from opportunities.models import Activity, ActivityKind, Opportunity

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _now_minute():
    return timezone.now().replace(second=0, microsecond=0)


def datetime_field(label, *, required: bool = True, initial=None) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        initial=initial,
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format=DATETIME_FORMAT
        ),
    )


def kind_field(label, *, required: bool = True) -> forms.ChoiceField:
    choices = ActivityKind.choices if required else [("", "—"), *ActivityKind.choices]
    return forms.ChoiceField(
        label=label,
        choices=choices,
        required=required,
        widget=FastSelect(attrs={"class": "form-select"}),
    )


def _account_label(pk) -> str:
    return Account.objects.filter(pk=pk).values_list("name", flat=True).first() or ""


class _CustomerChoicesMixin:
    """The account's contacts and open deals to choose from, loaded once by the view."""

    def _set_choices(
        self, *, contacts: list[Contact] | None, opportunities: list[Opportunity] | None
    ) -> None:
        if contacts is None:
            del self.fields["contact"]
        else:
            self.fields["contact"].queryset = Contact.objects.filter(
                pk__in=[c.pk for c in contacts]
            )
            self.fields["contact"].choices = [("", "—"), *((c.pk, c.full_name) for c in contacts)]
        if not opportunities:
            del self.fields["opportunity"]
        else:
            self.fields["opportunity"].queryset = Opportunity.objects.filter(
                pk__in=[o.pk for o in opportunities]
            )
            self.fields["opportunity"].choices = [
                ("", "—"),
                *((o.pk, o.name) for o in opportunities),
            ]


def _customer_fields() -> dict:
    return {
        "contact": forms.ModelChoiceField(
            label=_("Contacto"),
            queryset=Contact.objects.none(),
            required=False,
            widget=FastSelect(attrs={"class": "form-select"}),
        ),
        "opportunity": forms.ModelChoiceField(
            label=_("Oportunidad"),
            queryset=Opportunity.objects.none(),
            required=False,
            widget=FastSelect(attrs={"class": "form-select"}),
        ),
    }


class ActivityLogForm(_CustomerChoicesMixin, forms.Form):
    """The quick log of the customer sheet: what happened, and optionally the next step."""

    kind = kind_field(_("Tipo"))
    when = datetime_field(_("Cuándo"), initial=_now_minute)
    outcome = forms.CharField(
        label=_("Resultado"),
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": _("¿Qué pasó? Acuerdos, pedido, objeciones…")}
        ),
    )
    notes = forms.CharField(
        label=_("Notas"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    contact = _customer_fields()["contact"]
    opportunity = _customer_fields()["opportunity"]
    next_kind = kind_field(_("Siguiente paso"), required=False)
    next_at = datetime_field(_("Fecha del siguiente paso"), required=False)

    def __init__(
        self,
        *args,
        contacts: list[Contact] | None = None,
        opportunities: list[Opportunity] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._set_choices(contacts=contacts, opportunities=opportunities)

    def clean(self):
        data = super().clean()
        if bool(data.get("next_kind")) != bool(data.get("next_at")):
            self.add_error(
                "next_at" if data.get("next_kind") else "next_kind",
                _("Para el siguiente paso indica el tipo y la fecha."),
            )
        return data


class ActivityPlanForm(_CustomerChoicesMixin, forms.Form):
    """Plan an activity; the account is chosen here unless the page came from a customer."""

    kind = kind_field(_("Tipo"))
    planned_at = datetime_field(_("Fecha y hora"))
    duration_minutes = forms.IntegerField(
        label=_("Duración (min)"),
        min_value=5,
        max_value=24 * 60,
        initial=30,
        widget=forms.NumberInput(attrs={"step": 5}),
    )
    subject = forms.CharField(label=_("Asunto"), max_length=200, required=False)
    place = forms.CharField(label=_("Lugar"), max_length=200, required=False)
    notes = forms.CharField(
        label=_("Notas"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    account = forms.ModelChoiceField(
        label=_("Cuenta"),
        queryset=Account.objects.filter(archived_at__isnull=True),
        widget=RecordPicker(
            search_url=reverse_lazy("accounts:account-picker"), label_for=_account_label
        ),
    )
    contact = _customer_fields()["contact"]
    opportunity = _customer_fields()["opportunity"]

    def __init__(
        self,
        *args,
        fixed_customer: bool = False,
        contacts: list[Contact] | None = None,
        opportunities: list[Opportunity] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if fixed_customer:
            del self.fields["account"]
        self._set_choices(contacts=contacts, opportunities=opportunities)
        self.helper = FormHelper()
        self.helper.form_tag = False
        rows = [
            Row(
                Column("kind", css_class="col-sm-4"),
                Column("planned_at", css_class="col-sm-5"),
                Column("duration_minutes", css_class="col-sm-3"),
            ),
        ]
        if not fixed_customer:
            rows.append(Row(Column("account", css_class="col-12")))
        customer = [n for n in ("contact", "opportunity") if n in self.fields]
        if customer:
            rows.append(Row(*(Column(n, css_class="col-sm-6") for n in customer)))
        rows += [
            Row(Column("subject", css_class="col-sm-6"), Column("place", css_class="col-sm-6")),
            "notes",
        ]
        self.helper.layout = Layout(*rows)


class ActivityEditForm(forms.ModelForm):
    """The details of an activity; a planned one is moved, a done one keeps its outcome."""

    class Meta:
        model = Activity
        fields = [
            "kind",
            "subject",
            "planned_at",
            "done_at",
            "duration_minutes",
            "place",
            "outcome",
            "notes",
        ]
        widgets = {
            "kind": FastSelect(attrs={"class": "form-select"}),
            "outcome": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in (("planned_at", _("Fecha y hora")), ("done_at", _("Realizada el"))):
            self.fields[name] = datetime_field(label)
        if self.instance.status == Activity.Status.PLANNED:
            del self.fields["done_at"]
            del self.fields["outcome"]
        else:
            del self.fields["planned_at"]
            self.fields["outcome"].required = True
        self.helper = FormHelper()
        self.helper.form_tag = False
        when = "planned_at" if "planned_at" in self.fields else "done_at"
        rows = [
            Row(
                Column("kind", css_class="col-sm-4"),
                Column(when, css_class="col-sm-5"),
                Column("duration_minutes", css_class="col-sm-3"),
            ),
            Row(Column("subject", css_class="col-sm-6"), Column("place", css_class="col-sm-6")),
        ]
        if "outcome" in self.fields:
            rows.append("outcome")
        rows.append("notes")
        self.helper.layout = Layout(*rows)


class ActivityCompleteForm(forms.Form):
    outcome = forms.CharField(
        label=_("Resultado"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("¿Qué pasó?")}),
    )


class AgendaOwnerForm(forms.Form):
    """A manager opens the agenda of one of their reps (read from one query of the owners)."""

    owner = forms.TypedChoiceField(
        label=_("Agenda de"),
        coerce=int,
        required=False,
        widget=FastSelect(attrs={"class": "form-select form-select-sm", "data-autosubmit": True}),
    )

    def __init__(self, *args, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.owners = {user.pk: user for user in owners}
        self.fields["owner"].choices = [(pk, str(user)) for pk, user in self.owners.items()]

    def chosen(self, default: User) -> User:
        if self.is_bound and self.is_valid() and self.cleaned_data["owner"]:
            return self.owners[self.cleaned_data["owner"]]
        return default
