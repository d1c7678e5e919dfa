"""Automations: marketing's writes (create, edit with its steps, pause, resume) and the
recipient's unsubscribe from an automation's message.

Running them (materialising the deliveries, sending) is campaigns.services.automations_run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import content, tokens
from campaigns.models import Automation, AutomationDelivery, AutomationStep
from campaigns.permissions import can_manage_campaigns
from contacts.models import Consent, ConsentLatest
from contacts.services import consent_record
from crm.core.audit import audit
from crm.core.models import AuditEvent, User

Kind = Automation.Kind
UNSUBSCRIBE = "campaigns.automation.unsubscribe"
AUTOMATION_FIELDS = (
    "name",
    "kind",
    "topic",
    "send_hour",
    "holiday_country",
    "holiday_names",
    "inactive_days",
    "suppress_after_days",
    "remind_owner",
)
STEP_FIELDS = ("order", "delay_days", "delay_hours", "subject", "preheader", "html_body")
MAX_STEPS = 3


# --- Time: the company's zone and its quiet hours ---------------------------------------------


def company_zone() -> ZoneInfo:
    """The company's zone (settings.TIME_ZONE): its working days, and the zone of a contact
    with no zone of their own or of their country (crm.core.zones)."""
    return ZoneInfo(settings.TIME_ZONE)


def quiet_hours() -> tuple[int, int] | None:
    """(start, end) local hours during which no automated email leaves; None: never quiet."""
    value = getattr(settings, "AUTOMATION_QUIET_HOURS", (21, 8))
    return tuple(value) if value else None


def is_quiet_hour(hour: int) -> bool:
    window = quiet_hours()
    if window is None:
        return False
    start, end = window
    if start == end:
        return False
    return start <= hour or hour < end if start > end else start <= hour < end


def is_quiet(moment: datetime, zone: ZoneInfo | None = None) -> bool:
    """Whether `moment` falls in the quiet hours of `zone` (the recipient's; the company's
    when None)."""
    return is_quiet_hour(timezone.localtime(moment, zone or company_zone()).hour)


def local_moment(day: date, hour: int, zone: ZoneInfo | None = None) -> datetime:
    return datetime.combine(day, time(hour=hour), tzinfo=zone or company_zone())


def company_holidays(years) -> holidays.HolidayBase | dict:
    """The public holidays of the company's country (settings.COMPANY["country"]); none for a
    country the calendar library does not know."""
    try:
        return holidays.country_holidays(settings.COMPANY.get("country") or "MX", years=years)
    except NotImplementedError:
        return {}


def is_working_day(day: date) -> bool:
    """Monday to Friday, not a public holiday of the company's country."""
    return day.weekday() < 5 and day not in company_holidays([day.year])


def next_working_day(day: date) -> date:
    following = day + timedelta(days=1)
    while not is_working_day(following):
        following += timedelta(days=1)
    return following


# --- Holidays --------------------------------------------------------------------------------


def holiday_calendar(country: str, years) -> holidays.HolidayBase:
    """The public holidays of Mexico or Spain, named in Spanish (the stored choice's names)."""
    return holidays.country_holidays(country, years=years, language="es")


def holiday_choices(country: str, year: int | None = None) -> list[tuple[str, str]]:
    """(name, "name — date") of the country's holidays this year, in date order."""
    year = year or timezone.localdate().year
    found: dict[str, date] = {}
    for day, names in sorted(holiday_calendar(country, [year, year + 1]).items()):
        for name in names.split("; "):
            found.setdefault(name, day)
    return [(name, name) for name in sorted(found, key=lambda n: (found[n].month, found[n].day))]


def holiday_names_on(country: str, day: date) -> set[str]:
    return set((holiday_calendar(country, day.year).get(day) or "").split("; ")) - {""}


def next_holidays(automation: Automation, *, today: date | None = None, count: int = 3):
    """The next dates (today included) of the automation's chosen holidays: [(date, name)]."""
    today = today or timezone.localdate(timezone=company_zone())
    chosen = set(automation.holiday_names or [])
    if not automation.holiday_country or not chosen:
        return []
    calendar = holiday_calendar(automation.holiday_country, [today.year, today.year + 1])
    found = []
    for day, names in sorted(calendar.items()):
        picked = [n for n in names.split("; ") if n in chosen]
        if day >= today and picked:
            found.append((day, ", ".join(picked)))
    return found[:count]


# --- Definitions -----------------------------------------------------------------------------


def _check_manager(actor: User) -> None:
    if not can_manage_campaigns(actor):
        raise PermissionDenied(
            _("Solo marketing y los administradores gestionan automatizaciones.")
        )


def _validate(automation: Automation, steps: Sequence[dict]) -> None:
    errors: dict[str, list[str]] = {}
    if automation.kind == Kind.HOLIDAY:
        if automation.holiday_country not in Automation.Country.values:
            errors.setdefault("holiday_country", []).append(
                _("Elige el calendario de festivos (México o España).")
            )
        else:
            known = {name for name, _label in holiday_choices(automation.holiday_country)}
            names = list(automation.holiday_names or [])
            if not names:
                errors.setdefault("holiday_names", []).append(_("Elige al menos un festivo."))
            elif unknown := [n for n in names if n not in known]:
                errors.setdefault("holiday_names", []).append(
                    _("Festivos que no están en el calendario: %(names)s.")
                    % {"names": ", ".join(unknown)}
                )
    else:
        automation.holiday_country = ""
        automation.holiday_names = []
    if automation.kind == Kind.REENGAGEMENT:
        if not automation.inactive_days:
            errors.setdefault("inactive_days", []).append(
                _("Indica tras cuántos días sin actividad se escribe al contacto.")
            )
        if not automation.suppress_after_days:
            errors.setdefault("suppress_after_days", []).append(
                _("Indica tras cuántos días más de silencio se suprime la dirección.")
            )
    else:
        automation.inactive_days = None
        automation.suppress_after_days = None
    if automation.kind != Kind.BIRTHDAY:
        automation.remind_owner = False
    if automation.kind in (Kind.BIRTHDAY, Kind.HOLIDAY) and is_quiet_hour(automation.send_hour):
        start, end = quiet_hours()
        errors.setdefault("send_hour", []).append(
            _("Esa hora cae en el horario de silencio (de %(start)s:00 a %(end)s:00).")
            % {"start": start, "end": end}
        )
    if not 1 <= len(steps) <= MAX_STEPS:
        errors.setdefault("__all__", []).append(
            _("Una automatización tiene de 1 a %(max)s mensajes.") % {"max": MAX_STEPS}
        )
    orders = [step["order"] for step in steps]
    if len(set(orders)) != len(orders):
        errors.setdefault("__all__", []).append(_("Dos mensajes no pueden tener el mismo paso."))
    for step in steps:
        for field in ("subject", "preheader", "html_body"):
            for message in content.merge_errors(step.get(field) or ""):
                errors.setdefault("__all__", []).append(
                    _("Paso %(order)s: %(error)s") % {"order": step["order"], "error": message}
                )
        for message in content.link_errors(step.get("html_body") or ""):
            errors.setdefault("__all__", []).append(
                _("Paso %(order)s: %(error)s") % {"order": step["order"], "error": message}
            )
        if not content.sanitize_html(step.get("html_body") or "").strip():
            errors.setdefault("__all__", []).append(
                _("Paso %(order)s: el contenido del correo está vacío.") % {"order": step["order"]}
            )
    if errors:
        raise ValidationError(errors)
    automation.full_clean(exclude=["created_by"])


def _save_steps(automation: Automation, steps: Sequence[dict]) -> None:
    """Replace the steps by order: a kept order keeps its row (and its deliveries)."""
    keep = []
    for data in steps:
        html_body = content.sanitize_html(data["html_body"])
        values = {
            "delay_days": data.get("delay_days") or 0,
            "delay_hours": data.get("delay_hours") or 0,
            "subject": data["subject"],
            "preheader": data.get("preheader") or "",
            "html_body": html_body,
            "text_body": content.html_to_text(html_body),
        }
        step, _created = AutomationStep.objects.update_or_create(
            automation=automation, order=data["order"], defaults=values
        )
        step.full_clean()
        keep.append(step.pk)
    AutomationStep.objects.filter(automation=automation).exclude(pk__in=keep).delete()


@transaction.atomic
def automation_create(*, actor: User, data: dict, steps: Sequence[dict]) -> Automation:
    _check_manager(actor)
    automation = Automation(
        created_by=actor, **{k: v for k, v in data.items() if k in AUTOMATION_FIELDS}
    )
    _validate(automation, steps)
    automation.save()
    _save_steps(automation, steps)
    audit(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=automation,
        detail={"name": automation.name, "kind": automation.kind},
    )
    return automation


@transaction.atomic
def automation_update(
    *, actor: User, automation: Automation, data: dict, steps: Sequence[dict]
) -> Automation:
    _check_manager(actor)
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    for name, value in data.items():
        if name in AUTOMATION_FIELDS and name != "kind":  # the kind decides the ledger's keys
            setattr(automation, name, value)
    _validate(automation, steps)
    automation.save()
    _save_steps(automation, steps)
    audit(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        target=automation,
        detail={"name": automation.name, "kind": automation.kind},
    )
    return automation


@transaction.atomic
def automation_pause(*, actor: User, automation: Automation) -> Automation:
    """Stop at once: the sender claims nothing more of it (its pending rows wait, and those
    of a birthday or holiday that pass their day meanwhile are skipped as expired)."""
    _check_manager(actor)
    changed = Automation.objects.filter(pk=automation.pk, status=Automation.Status.ACTIVE).update(
        status=Automation.Status.PAUSED, paused_at=timezone.now()
    )
    if not changed:
        raise ValidationError(_("La automatización ya está pausada."), code="wrong_state")
    automation.refresh_from_db()
    audit(actor=actor, action=AuditEvent.Action.SEND, target=automation, detail={"event": "pause"})
    return automation


@transaction.atomic
def automation_resume(*, actor: User, automation: Automation) -> Automation:
    _check_manager(actor)
    changed = Automation.objects.filter(pk=automation.pk, status=Automation.Status.PAUSED).update(
        status=Automation.Status.ACTIVE, paused_at=None
    )
    if not changed:
        raise ValidationError(_("La automatización no está pausada."), code="wrong_state")
    automation.refresh_from_db()
    audit(actor=actor, action=AuditEvent.Action.SEND, target=automation, detail={"event": "resume"})
    return automation


# --- The recipient's unsubscribe ----------------------------------------------------------------


def unsubscribe_url(delivery_id: int) -> str:
    from django.urls import reverse

    token = tokens.make(UNSUBSCRIBE, delivery_id)
    path = reverse("campaigns_public:automation-unsubscribe", kwargs={"token": token})
    return settings.SITE_URL.rstrip("/") + path


def delivery_for_token(token: str) -> AutomationDelivery | None:
    try:
        pk = tokens.read(UNSUBSCRIBE, token)
    except tokens.BadToken:
        return None
    return (
        AutomationDelivery.objects.select_related("automation__topic", "contact")
        .filter(pk=pk, step__isnull=False)
        .first()
    )


def _latest(contact_id: int) -> dict[int | None, str]:
    return dict(
        ConsentLatest.objects.filter(
            contact_id=contact_id, channel=Consent.Channel.EMAIL
        ).values_list("topic_id", "action")
    )


def unsubscribe_state(delivery: AutomationDelivery) -> dict:
    latest = _latest(delivery.contact_id)
    topic_id = delivery.automation.topic_id
    return {
        "all_withdrawn": latest.get(None) == Consent.Action.WITHDRAW,
        "topic_withdrawn": topic_id is not None and latest.get(topic_id) == Consent.Action.WITHDRAW,
    }


def automation_unsubscribe(
    *, delivery: AutomationDelivery, everything: bool, ip_address: str | None, user_agent: str
) -> bool:
    """The recipient leaves the automation's topic, or all email: True if it changed.

    Idempotent (an RFC 8058 client may POST twice): a withdrawal already current is not
    written again. Without a topic the automation speaks for all email, so that is what ends.
    """
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        delivery = (
            AutomationDelivery.objects.select_for_update(of=("self",))
            .select_related("automation__topic", "contact")
            .get(pk=delivery.pk)
        )
        topic = None if everything else delivery.automation.topic
        if _latest(delivery.contact_id).get(topic.pk if topic else None) == (
            Consent.Action.WITHDRAW
        ):
            return False
        consent_record(
            contact=delivery.contact,
            action=Consent.Action.WITHDRAW,
            channel=Consent.Channel.EMAIL,
            topic=topic,
            source=Consent.Source.UNSUBSCRIBE,
            ip_address=ip_address,
            user_agent=user_agent,
            note=_("Enlace de baja de la automatización «%(name)s»")
            % {"name": delivery.automation.name},
        )
    return True
