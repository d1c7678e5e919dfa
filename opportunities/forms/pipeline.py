"""Forms of the pipeline: the deal, its stage move, its lines, the filters, products, quotes."""

from datetime import timedelta

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row
from django import forms
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from contacts.models import Contact
from crm.core.concurrency import VersionedFormMixin
from crm.core.forms_utils import (
    FastDateInput,
    FastNumberInput,
    FastSelect,
    IdField,
    ListFilterForm,
    multi_choice,
)
from crm.core.models import User
from crm.core.permissions import assignable_owners
from crm.core.text import parse_id
from crm.core.widgets import RecordPicker
from opportunities.models import (
    Currency,
    ForecastCategory,
    LineItem,
    Opportunity,
    Product,
    Stage,
)
from opportunities.selectors.pipeline import pipeline_choices, product_choices, stage_choices

SORT_CHOICES = [
    ("close", _("Cierre previsto (próximas primero)")),
    ("-close", _("Cierre previsto (lejanas primero)")),
    ("-amount", _("Importe (mayor primero)")),
    ("name", _("Nombre (A-Z)")),
    ("account", _("Cuenta")),
    ("-updated", _("Modificadas recientemente")),
]
STATUS_CHOICES = [
    ("", "—"),
    ("open", _("Abiertas")),
    ("won", _("Ganadas")),
    ("lost", _("Perdidas")),
]


def _many_pipelines() -> bool:
    return pipeline_choices().count() > 1


OPEN_CATEGORIES = [c for c in ForecastCategory.choices if c[0] != ForecastCategory.CLOSED]


def _account_label(value) -> str:
    account = Account.objects.filter(pk=value).only("name").first()
    return account.name if account else ""


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _filter_date_input() -> forms.DateInput:
    """A close date of the board's and the list's filter bars, drawn in Python."""
    return FastDateInput(attrs={"type": "date", "class": "form-control form-control-sm"})


def _stage_label(stage: Stage, many_pipelines: bool) -> str:
    label = f"{stage.name} ({stage.probability} %)"
    return f"{stage.pipeline.name} · {label}" if many_pipelines else label


class OpportunityForm(VersionedFormMixin, forms.ModelForm):
    """Create or change a deal. The stage is chosen on creation only (then: move it)."""

    stage = forms.ModelChoiceField(
        label=_("Etapa"), queryset=Stage.objects.none(), required=False, empty_label=None
    )

    class Meta:
        model = Opportunity
        fields = [
            "name",
            "account",
            "contact",
            "amount",
            "currency",
            "expected_close_date",
            "forecast_category",
            "lead_source",
            "owner",
            "description",
        ]
        widgets = {
            "expected_close_date": _date_input(),
            "description": forms.Textarea(attrs={"rows": 3}),
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
        }

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        creating = self.instance.pk is None
        self.fields["account"].queryset = Account.objects.filter(archived_at__isnull=True)
        self.fields["account"].widget = RecordPicker(
            search_url=reverse_lazy("accounts:account-picker"), label_for=_account_label
        )
        # Only the contacts of the chosen account are offered (and accepted).
        account_id = (self.data.get("account") if self.is_bound else None) or self.initial.get(
            "account"
        )
        if not account_id and not creating:
            account_id = self.instance.account_id
        account_id = parse_id(account_id)
        self.fields["contact"].queryset = (
            Contact.objects.filter(account_id=account_id, archived_at__isnull=True).order_by(
                "last_name", "first_name"
            )
            if account_id
            else Contact.objects.none()
        )
        self.fields["contact"].empty_label = "—"
        self.fields["contact"].widget.attrs["data-contact-options"] = reverse_lazy(
            "opportunities:opportunity-contact-options"
        )
        self.fields["contact"].help_text = _("Las personas de la cuenta elegida.")
        self.fields["owner"].queryset = assignable_owners(user)
        self.fields["owner"].required = False
        self.fields["owner"].empty_label = "—"
        self.fields["owner"].help_text = _("Si lo dejas vacío, la oportunidad es tuya.")
        self.fields["amount"].required = False
        self.fields["amount"].help_text = _("Sin impuestos. Con líneas, es la suma de las líneas.")
        self.fields["expected_close_date"].input_formats = ["%Y-%m-%d", "%d/%m/%Y"]
        stage_layout: list = []
        if creating:
            stages = stage_choices().filter(is_won=False, is_lost=False)
            many = _many_pipelines()
            self.fields["stage"].queryset = stages
            self.fields["stage"].label_from_instance = lambda s: _stage_label(s, many)
            self.fields["stage"].required = True
            self.fields["forecast_category"].choices = OPEN_CATEGORIES
            stage_layout = [Column("stage", css_class="col-md-4")]
            if not self.initial.get("expected_close_date"):
                self.initial["expected_close_date"] = timezone.localdate() + timedelta(days=30)
        else:
            del self.fields["stage"]
            if self.instance.stage.is_won:
                self.fields["forecast_category"].disabled = True
            else:
                self.fields["forecast_category"].choices = OPEN_CATEGORIES
            if self.instance.line_items.exists():
                self.fields["amount"].disabled = True
                self.fields["amount"].help_text = _("La suma de las líneas, sin impuestos.")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                _("Oportunidad"),
                "name",
                Row(
                    Column("account", css_class="col-md-6"), Column("contact", css_class="col-md-6")
                ),
                Row(
                    *stage_layout,
                    Column("expected_close_date", css_class="col-md-4"),
                    Column("forecast_category", css_class="col-md-4"),
                ),
            ),
            Fieldset(
                _("Importe"),
                Row(
                    Column("amount", css_class="col-md-6"),
                    Column("currency", css_class="col-md-6"),
                ),
            ),
            Fieldset(
                _("Gestión"),
                Row(
                    Column("owner", css_class="col-md-6"),
                    Column("lead_source", css_class="col-md-6"),
                ),
                "description",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        account, contact = cleaned.get("account"), cleaned.get("contact")
        if account and contact and contact.account_id != account.pk:
            self.add_error("contact", _("Ese contacto no es de la cuenta elegida."))
        return cleaned


class MoveForm(forms.Form):
    """The stage move, from the board (drag and drop or the select) or the detail page."""

    stage = forms.ModelChoiceField(label=_("Etapa"), queryset=Stage.objects.all())
    lost_reason = forms.CharField(label=_("Motivo de pérdida"), max_length=200, required=False)
    won_reason = forms.CharField(label=_("Motivo de ganancia"), max_length=200, required=False)


class BoardFilterForm(forms.Form):
    pipeline = forms.ModelChoiceField(
        label=_("Embudo"),
        queryset=None,
        required=False,
        empty_label=None,
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    owner = forms.ModelChoiceField(
        label=_("Responsable"),
        queryset=None,
        required=False,
        empty_label="—",
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    close_from = forms.DateField(
        label=_("Cierre desde"),
        required=False,
        widget=_filter_date_input(),
    )
    close_to = forms.DateField(
        label=_("Cierre hasta"),
        required=False,
        widget=_filter_date_input(),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].queryset = pipeline_choices()
        # A rep sees only their own deals: the owner filter is for managers and administrators.
        owners = assignable_owners(user)
        self.fields["owner"].queryset = owners
        self.show_owner = user.is_admin_role or user.is_manager

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        self.is_valid()
        data = {
            k: v
            for k, v in getattr(self, "cleaned_data", {}).items()
            if v not in (None, "") and k != "pipeline"
        }
        if not self.show_owner:
            data.pop("owner", None)
        return data


class StageIdsField(forms.ModelMultipleChoiceField):
    """Stages by id. A value no id can be is the field's error before the database is asked:
    Django would ask it, and SQLite refuses a number past its integers."""

    def clean(self, value):
        for pk in value or ():
            if parse_id(pk) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super().clean(value)


class OpportunityFilterForm(ListFilterForm):
    MORE = ("currency", "forecast_category", "close_from", "close_to")

    stage = StageIdsField(
        label=_("Etapa"),
        queryset=Stage.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"class": "form-select form-select-sm"}),
    )
    status = forms.ChoiceField(
        label=_("Estado"),
        choices=STATUS_CHOICES,
        required=False,
        widget=FastSelect(attrs={"class": "form-select form-select-sm"}),
    )
    currency = multi_choice(_("Moneda"), Currency.choices)
    forecast_category = multi_choice(_("Categoría de previsión"), ForecastCategory.choices)
    close_from = forms.DateField(
        label=_("Cierre desde"),
        required=False,
        widget=_filter_date_input(),
    )
    close_to = forms.DateField(
        label=_("Cierre hasta"),
        required=False,
        widget=_filter_date_input(),
    )
    account = IdField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("tag", "city", "region", "archived"):
            del self.fields[name]
        stages = stage_choices()
        many = _many_pipelines()
        self.fields["stage"].queryset = stages
        self.fields["stage"].label_from_instance = lambda s: _stage_label(s, many)
        # One compact select (like the other filters); ?stage=1&stage=2 still reads both.
        self.fields["stage"].widget = _StageSelect(
            attrs={"class": "form-select form-select-sm"},
            choices=[("", "—"), *((s.pk, _stage_label(s, many)) for s in stages)],
        )
        self.fields["sort"].choices = SORT_CHOICES
        self.fields["mine"].label = _("Solo las mías")

    def filters(self) -> dict:
        data = super().filters()
        if stages := data.pop("stage", None):
            data["stage"] = [s.pk for s in stages]
        return data


class _StageSelect(FastSelect):
    allow_multiple_selected = True

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if values is None:
            return []
        if not isinstance(values, list | tuple):
            values = [values]
        return [v for v in values if v]


class ProductOptions(forms.models.ModelChoiceIterator):
    """The catalogue's options from its rows' ids, names and SKUs: no Product per option (the
    line form is on every deal's sheet; 40 products as models cost 0.6 ms of it). Choosing one is
    still checked against the field's queryset."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for pk, name, sku in self.queryset.values_list("pk", "name", "sku"):
            yield (pk, Product.label_of(name, sku))


class LineItemForm(forms.ModelForm):
    class Meta:
        model = LineItem
        fields = ["product", "description", "quantity", "unit_price", "discount_pct", "tax_rate"]
        # Drawn in Python (crm.core.forms_utils): the form is on every deal's sheet, and the
        # catalogue's options through Django's widget templates cost a fifth of the page.
        widgets = {
            "product": FastSelect,
            "quantity": FastNumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "unit_price": FastNumberInput(attrs={"step": "0.01", "min": "0"}),
            "discount_pct": FastNumberInput(attrs={"step": "0.01", "min": "0", "max": "100"}),
            "tax_rate": FastNumberInput(attrs={"step": "0.01", "min": "0", "max": "100"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Before the queryset: setting it gives the widget its options.
        self.fields["product"].iterator = ProductOptions
        self.fields["product"].queryset = product_choices()
        self.fields["product"].label = _("Producto")
        self.fields["product"].empty_label = _("— Sin producto —")
        for name in ("description", "unit_price", "tax_rate"):
            self.fields[name].required = False
        self.fields["description"].help_text = _("Vacío: el nombre del producto.")
        self.fields["unit_price"].help_text = _("Vacío: el precio del catálogo.")
        self.fields["tax_rate"].help_text = _("IVA: 16 % en México, 21 % en España.")
        for name, field in self.fields.items():
            css = "form-select" if name == "product" else "form-control"
            css += " form-select-sm" if name == "product" else " form-control-sm"
            field.widget.attrs.setdefault("class", css)


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["name", "sku", "description", "price", "currency", "tax_rate", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tax_rate"].help_text = _("IVA: 16 % en México, 21 % en España.")
        self.fields["is_active"].help_text = _(
            "Un producto retirado no se ofrece en las líneas nuevas; las existentes lo conservan."
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("name", css_class="col-md-8"), Column("sku", css_class="col-md-4")),
            Row(
                Column("price", css_class="col-md-4"),
                Column("currency", css_class="col-md-4"),
                Column("tax_rate", css_class="col-md-4"),
            ),
            "description",
            "is_active",
        )


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Buscar"), required=False, max_length=100)
    archived = forms.BooleanField(label=_("Incluir retirados"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"class": "form-control form-control-sm"})
        self.fields["archived"].widget.attrs.update({"class": "form-check-input"})

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class QuoteForm(forms.Form):
    valid_until = forms.DateField(label=_("Válida hasta"), widget=_date_input())
    terms = forms.CharField(
        label=_("Condiciones"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["valid_until"].input_formats = ["%Y-%m-%d", "%d/%m/%Y"]
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control form-control-sm")
