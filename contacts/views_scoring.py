"""The lead score's rules, for marketing and administrators (contacts.scoring)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from contacts import scoring
from contacts.forms import ScoreRuleForm
from contacts.models import ScoreChange, ScoreRule
from crm.core.audit import audit
from crm.core.forms_utils import paginate
from crm.core.models import AuditEvent
from crm.core.queue import enqueue_on_commit
from crm.core.text import parse_id

# The nightly job of campaigns.scoring (queued by name: contacts does not import campaigns).
NIGHTLY_TASK = "campaigns.contacts_score_nightly"


def _require_scoring(request: HttpRequest) -> None:
    if not scoring.can_manage_scoring(request.user):
        raise PermissionDenied(_("Solo marketing y los administradores gestionan la puntuación."))


def _rule(pk) -> ScoreRule:
    rule = ScoreRule.objects.filter(pk=parse_id(pk)).first() if parse_id(pk) else None
    if rule is None:
        raise Http404(_("No existe esa regla."))
    return rule


@require_http_methods(["GET"])
def score_rule_list(request: HttpRequest) -> HttpResponse:
    _require_scoring(request)
    page = paginate(request, scoring.score_rule_list())
    for rule in page:
        rule.values_display = scoring.rule_values_display(rule)
    return render(
        request,
        "contacts/scoring/rule_list.html",
        {"page_obj": page, "threshold": settings.LEAD_MQL_THRESHOLD},
    )


def _save(request: HttpRequest, form: ScoreRuleForm, rule: ScoreRule | None) -> ScoreRule | None:
    try:
        if rule is None:
            return scoring.score_rule_create(actor=request.user, data=form.rule_data())
        return scoring.score_rule_update(actor=request.user, rule=rule, data=form.rule_data())
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc)
    return None


def _form_page(request: HttpRequest, rule: ScoreRule | None) -> HttpResponse:
    _require_scoring(request)
    form = ScoreRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, rule)
        if saved is not None:
            messages.success(
                request,
                _("Regla «%(name)s» guardada. Se aplica con el próximo recálculo.")
                % {"name": saved.name},
            )
            return redirect("contacts:score-rule-list")
    return render(
        request,
        "contacts/scoring/rule_form.html",
        {"form": form, "rule": rule, "creating": rule is None},
        status=200 if request.method == "GET" or not form.errors else 422,
    )


@require_http_methods(["GET", "POST"])
def score_rule_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@require_http_methods(["GET", "POST"])
def score_rule_update(request: HttpRequest, pk: int) -> HttpResponse:
    _require_scoring(request)
    return _form_page(request, _rule(pk))


@require_POST
def score_rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate a rule, or activate it again ("active" in the POST: 1 or 0)."""
    _require_scoring(request)
    rule = scoring.score_rule_set_active(
        actor=request.user, rule=_rule(pk), active=request.POST.get("active") == "1"
    )
    if rule.active:
        messages.success(request, _("Regla «%(name)s» activada.") % {"name": rule.name})
    else:
        messages.success(request, _("Regla «%(name)s» desactivada.") % {"name": rule.name})
    return redirect("contacts:score-rule-list")


@require_POST
def score_recompute(request: HttpRequest) -> HttpResponse:
    """ "Recalcular ahora": the nightly job, queued at once (after the rules changed)."""
    _require_scoring(request)
    enqueue_on_commit(NIGHTLY_TASK, [ScoreChange.Reason.RULES])
    audit(actor=request.user, action=AuditEvent.Action.UPDATE, target="lead-score:recompute")
    messages.success(
        request,
        _("Recálculo en cola: las puntuaciones se actualizan en unos minutos."),
    )
    return redirect("contacts:score-rule-list")
