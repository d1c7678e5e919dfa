"""Duplicados and Fusionar: the pages of crm.top.merge (issue 10)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.models import Account
from accounts.selectors import account_duplicates
from contacts.models import Contact
from contacts.selectors import contact_duplicates
from crm.core.text import format_phone, parse_id
from crm.top import merge

KINDS: dict[str, dict] = {
    "contactos": {
        "model": Contact,
        "title": gettext_lazy("Contactos duplicados"),
        "list_url": "contacts:contact-list",
        "merge": merge.contacts_merge,
        "merge_url": "crm:merge-contacts",
        "duplicates_url": "crm:merge-contact-duplicates",
    },
    "cuentas": {
        "model": Account,
        "title": gettext_lazy("Cuentas duplicadas"),
        "list_url": "accounts:account-list",
        "merge": merge.accounts_merge,
        "merge_url": "crm:merge-accounts",
        "duplicates_url": "crm:merge-account-duplicates",
    },
}
PER_PAGE = 20


def _guard(request: HttpRequest) -> None:
    if not merge.can_merge(request.user):
        raise PermissionDenied(_("Tu rol no puede fusionar registros."))


@require_http_methods(["GET"])
def duplicates(request: HttpRequest, kind: str) -> HttpResponse:
    _guard(request)
    spec = KINDS[kind]
    criteria = merge.criteria_for(spec["model"])
    criterion = request.GET.get("criterio")
    if criterion not in criteria:
        criterion = next(iter(criteria))
    page = min(parse_id(request.GET.get("page")) or 1, 10_000)
    duplicate_page = merge.duplicate_groups(
        user=request.user,
        model=spec["model"],
        criterion=criterion,
        page=page,
        per_page=PER_PAGE,
    )
    for group in duplicate_page:
        group.title = _group_title(group, criterion)
    return render(
        request,
        "top/merge/duplicates.html",
        {
            "kind": kind,
            "kinds": KINDS,
            "spec": spec,
            "criteria": criteria,
            "criterion": criterion,
            "page_obj": duplicate_page,
            "is_contact": spec["model"] is Contact,
            "merge_url": reverse(spec["merge_url"]),
            "list_url": reverse(spec["list_url"]),
        },
    )


def _group_title(group: merge.DuplicateGroup, criterion: str) -> str:
    """The shared value as people read it: a formatted phone, a name as written."""
    if criterion == "telefono":
        return format_phone(f"+{group.key}") or group.key
    if criterion == "nombre" and group.members:
        first = group.members[0]
        return " · ".join(str(part) for part in (first, getattr(first, "account", None)) if part)
    return group.label


def _ids(request: HttpRequest) -> list[int]:
    source = request.POST if request.method == "POST" else request.GET
    ids = [parse_id(v) for v in source.getlist("ids")]
    return list(dict.fromkeys(pk for pk in ids if pk))[: merge.MAX_RECORDS]


def _field_rows(model: type[Model], records: list[Model], choices: dict[str, int]) -> list[dict]:
    rows = []
    for name in merge.fields_for(model):
        field = model._meta.get_field(name)
        options = []
        for record in records:
            raw = getattr(record, field.attname)
            if raw in (None, ""):
                shown = "—"
            elif field.choices:
                shown = getattr(record, f"get_{name}_display")()
            elif field.is_relation:
                shown = str(getattr(record, name))
            elif name in ("phone", "mobile"):
                shown = format_phone(raw)
            else:
                shown = str(raw)
            options.append({"record": record, "value": shown, "raw": raw})
        rows.append(
            {
                "name": name,
                "label": field.verbose_name,
                "options": options,
                "chosen": choices.get(name),
                "same": len({str(o["raw"]) for o in options}) == 1,
            }
        )
    return rows


def _possible_duplicates(request: HttpRequest, record: Model) -> list[Model]:
    """The one record's likely duplicates that this user may merge (the sheet's "Fusionar
    con…")."""
    if isinstance(record, Contact):
        found = contact_duplicates(
            email=record.email,
            phone_digits=(record.phone_digits, record.mobile_digits),
            first_name=record.first_name,
            last_name=record.last_name,
            account_id=record.account_id,
            exclude_pk=record.pk,
        )
    else:
        found = account_duplicates(
            tax_id=record.tax_id,
            email=record.email,
            phone_digits=record.phone_digits,
            exclude_pk=record.pk,
        )
    ids = [r.pk for r in found]
    return merge.merge_candidates(user=request.user, model=type(record), ids=ids)


@require_http_methods(["GET", "POST"])
def merge_records(request: HttpRequest, kind: str) -> HttpResponse:
    """GET: the records side by side, a value per field and what moves; POST: the merge."""
    _guard(request)
    spec = KINDS[kind]
    model = spec["model"]
    ids = _ids(request)
    records = merge.merge_candidates(user=request.user, model=model, ids=ids)
    if not ids or len(records) != len(ids):
        raise Http404(_("No existe alguno de esos registros o no puedes fusionarlo."))
    source = request.POST if request.method == "POST" else request.GET
    survivor_id = parse_id(source.get("survivor"))
    if survivor_id not in ids:
        survivor_id = ids[0]
    survivor = next(r for r in records if r.pk == survivor_id)
    others = [r for r in records if r.pk != survivor_id]
    choices = merge.default_choices(model=model, survivor=survivor, others=others)
    status = 200
    if request.method == "POST":
        for name in merge.fields_for(model):
            if (picked := parse_id(request.POST.get(f"f_{name}"))) is not None:
                choices[name] = picked
        try:
            merged = spec["merge"](
                actor=request.user,
                survivor_id=survivor_id,
                other_ids=[r.pk for r in others],
                choices=choices,
            )
        except (ValidationError, PermissionDenied) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, _("No se ha fusionado nada: %(error)s") % {"error": text})
            status = 422
        else:
            messages.success(
                request,
                _("Registros fusionados en «%(name)s».") % {"name": merged},
            )
            return redirect(merged.get_absolute_url())
    rows = _field_rows(model, records, choices) if others else []
    summary = merge.merge_summary(model=model, records=records) if others else []
    for row in summary:
        row["pairs"] = list(zip(records, row["counts"], strict=True))
    cards = [
        {
            "record": record,
            "counts": [(row["label"], row["counts"][i]) for row in summary if row["counts"][i]],
        }
        for i, record in enumerate(records)
    ]
    context = {
        "kind": kind,
        "spec": spec,
        "records": records,
        "survivor": survivor,
        "others": others,
        "rows": [row for row in rows if not row["same"]],
        "same_rows": [row for row in rows if row["same"]],
        "summary": [row for row in summary if any(row["counts"])],
        "cards": cards,
        "suggestions": [] if others else _possible_duplicates(request, survivor),
        "ids": [r.pk for r in records],
        "is_contact": model is Contact,
        "merge_url": reverse(spec["merge_url"]),
        "duplicates_url": reverse(spec["duplicates_url"]),
    }
    return render(request, "top/merge/merge.html", context, status=status)
