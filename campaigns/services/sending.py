"""Sending a campaign exactly once: the state machine a person drives (send now, schedule,
pause, resume, cancel, settle a doubtful row) and the one place the campaign tasks are queued.

The ledger (`Send`, one row per campaign and contact) is the truth; Celery only wakes workers
up. Every step is safe to run twice or concurrently:

- A campaign moves between states by conditional UPDATEs on a locked row, so pressing Send
  twice, or two beat processes starting the same scheduled campaign, start it once.
- The recipients are written once, by the one transaction that finds `materialized_at` empty
  (and the ledger's unique constraints refuse a duplicate anyway): campaigns.services.recipients.
- A worker claims a batch (pending rows → `enviando`, with one `claimed_at` per batch, unique
  among the campaign's live claims), re-checks consent and suppression, then sends the batch in
  id order over one connection, writing the accepted rows `enviado` every `MARK_EVERY` messages
  (or `MARK_SECONDS`, whichever comes first; one commit per message was half the worker's time).
  A worker killed mid-batch leaves at most `MARK_EVERY` rows it may have handed to the server:
  the first rows of its batch still `enviando`. The reconciler marks those `en_duda` (a person
  decides) and puts the rest of the batch back to pending: they were never sent
  (campaigns.services.batches, campaigns.services.reconcile).
- Lost Celery messages (Redis restarted or flushed) are found by the reconciler: a sending
  campaign with work to do and no claim for a while gets its batches queued again.

Every campaign task is queued by `_on_commit_enqueue` below, which the other sending modules
call through this module (`services._on_commit_enqueue`): one name to swap, and the real-worker
tests route it to their broker (campaigns/tests/workers.py).
"""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import content
from campaigns.models import Campaign, Send
from campaigns.services.batches import CLAIMABLE_STATES, lanes
from crm.core.audit import audit
from crm.core.models import AuditEvent, User
from crm.core.queue import enqueue_on_commit

Status = Campaign.Status
Row = Send.Status


def send_audit(*, actor, campaign: Campaign, event: str, **detail) -> None:
    audit(
        actor=actor,
        action=AuditEvent.Action.SEND,
        target=campaign,
        detail={"event": event, "campaign": campaign.name, **detail},
    )


_TASKS = {
    "materialize": "campaigns.campaign_materialize",
    "batch": "campaigns.campaign_send_batch",
    "ab_decide": "campaigns.campaign_ab_decide",
}


def _on_commit_enqueue(task: str, campaign_id: int, *, count: int = 1, countdown=None):
    """Queue `count` runs of a campaign task after the commit (a rollback queues nothing)."""
    enqueue_on_commit(_TASKS[task], [campaign_id], copies=count, countdown=countdown)


# The state machine ------------------------------------------------------------------------


def send_errors(campaign: Campaign) -> list[str]:
    """Why this campaign cannot be sent or scheduled (empty: it can)."""
    errors = []
    if campaign.segment_id is None:
        errors.append(_("Elige un segmento de destinatarios antes de enviar."))
    if campaign.topic_id is None:
        errors.append(_("Elige el tema de la campaña antes de enviar."))
    if not (settings.COMPANY.get("address") or "").strip():
        # The footer of every commercial email must give the sender's postal address (LFPDPPP
        # and PROFECO's rules in Mexico, LSSI in Spain).
        errors.append(
            _(
                "Falta la dirección postal de la empresa (COMPANY_ADDRESS): la ley exige "
                "mostrarla en el pie de cada correo comercial."
            )
        )
    for field_errors in content.content_errors(campaign).values():
        errors.extend(field_errors)
    return errors


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _refuse(campaign: Campaign, allowed: Iterable[str], message: str) -> None:
    if campaign.status not in allowed:
        raise ValidationError(
            message % {"status": campaign.get_status_display()},
            code="wrong_state",
        )


def mark_started(
    campaign_id: int, *, from_states: Iterable[str], user: User | None, now: datetime | None = None
) -> bool:
    """The one conditional UPDATE that starts a campaign (True only for its winner)."""
    now = now or timezone.now()
    changes = {"status": Status.SENDING, "started_at": now, "scheduled_at": None}
    if user is not None:
        changes["sent_by"] = user
    started = Campaign.objects.filter(pk=campaign_id, status__in=list(from_states)).update(
        **changes
    )
    if started:
        _on_commit_enqueue("materialize", campaign_id)
    return bool(started)


@transaction.atomic
def campaign_send_now(*, campaign: Campaign, user: User) -> Campaign:
    """Start sending now; a second press (or a second tab) finds it started and is refused."""
    campaign = _locked(campaign)
    _refuse(
        campaign,
        (Status.DRAFT, Status.SCHEDULED),
        _("La campaña ya no se puede enviar: está «%(status)s»."),
    )
    if errors := send_errors(campaign):
        raise ValidationError(errors)
    mark_started(campaign.pk, from_states=(Status.DRAFT, Status.SCHEDULED), user=user)
    campaign.refresh_from_db()
    send_audit(actor=user, campaign=campaign, event="send_now")
    return campaign


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, user: User, when: datetime) -> Campaign:
    """Program the send for `when` (the reconciler starts it on time); rescheduling is allowed."""
    campaign = _locked(campaign)
    _refuse(
        campaign,
        (Status.DRAFT, Status.SCHEDULED),
        _("La campaña ya no se puede programar: está «%(status)s»."),
    )
    if when is None or timezone.is_naive(when):
        raise ValidationError(_("Indica la fecha y la hora del envío."), code="invalid")
    if when <= timezone.now():
        raise ValidationError(_("La fecha del envío debe ser futura."), code="past")
    if errors := send_errors(campaign):
        raise ValidationError(errors)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.SCHEDULED, scheduled_at=when, sent_by=user
    )
    campaign.refresh_from_db()
    send_audit(actor=user, campaign=campaign, event="schedule", scheduled_at=when.isoformat())
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign, user: User) -> Campaign:
    """Back to draft (the schedule dropped), for an edit before it goes."""
    campaign = _locked(campaign)
    _refuse(campaign, (Status.SCHEDULED,), _("Solo una campaña programada vuelve a borrador."))
    Campaign.objects.filter(pk=campaign.pk).update(status=Status.DRAFT, scheduled_at=None)
    campaign.refresh_from_db()
    send_audit(actor=user, campaign=campaign, event="unschedule")
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, user: User) -> Campaign:
    """Stop claiming batches; the messages of batches already claimed still go out."""
    campaign = _locked(campaign)
    _refuse(campaign, (Status.SENDING,), _("Solo se pausa una campaña que se está enviando."))
    Campaign.objects.filter(pk=campaign.pk, status=Status.SENDING).update(status=Status.PAUSED)
    campaign.refresh_from_db()
    send_audit(actor=user, campaign=campaign, event="pause")
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, user: User) -> Campaign:
    campaign = _locked(campaign)
    _refuse(campaign, (Status.PAUSED,), _("Solo se reanuda una campaña pausada."))
    Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(status=Status.SENDING)
    campaign.refresh_from_db()
    if campaign.materialized_at is None:
        _on_commit_enqueue("materialize", campaign.pk)
    else:
        _on_commit_enqueue("batch", campaign.pk, count=lanes(campaign))
    send_audit(actor=user, campaign=campaign, event="resume")
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, user: User) -> Campaign:
    """Cancel: nothing more goes out (rows already claimed finish; pending rows are cancelled)."""
    campaign = _locked(campaign)
    _refuse(
        campaign,
        (Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.PAUSED),
        _("La campaña ya no se puede cancelar: está «%(status)s»."),
    )
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Status.CANCELLED, scheduled_at=None, finished_at=now
    )
    cancelled = Send.objects.filter(campaign=campaign, status__in=(Row.PENDING, Row.RETRY)).update(
        status=Row.CANCELLED, next_attempt_at=None
    )
    campaign.refresh_from_db()
    send_audit(actor=user, campaign=campaign, event="cancel", cancelled_rows=cancelled)
    return campaign


# Doubtful rows: a person's decision ---------------------------------------------------------

RESOLVE_SENT = "enviado"
RESOLVE_RESEND = "reenviar"


@transaction.atomic
def campaign_send_resolve(*, send: Send, user: User, action: str) -> Send:
    """Marketing settles a row `en_duda`: it did arrive (marked sent) or send it again."""
    send = Send.objects.select_for_update().select_related("campaign").get(pk=send.pk)
    if send.status != Row.DOUBT:
        raise ValidationError(_("Este envío ya no está en duda."), code="not_doubt")
    campaign = send.campaign
    if action == RESOLVE_SENT:
        Send.objects.filter(pk=send.pk).update(
            status=Row.SENT,
            sent_at=send.claimed_at or timezone.now(),
            error=_("Marcado como enviado por %(user)s.") % {"user": user.get_full_name() or user},
        )
    elif action == RESOLVE_RESEND:
        if campaign.status == Status.CANCELLED:
            raise ValidationError(_("La campaña está cancelada: no se reenvía."), code="cancelled")
        Send.objects.filter(pk=send.pk).update(
            status=Row.PENDING, claimed_at=None, next_attempt_at=None, error=""
        )
        if campaign.status in CLAIMABLE_STATES:
            _on_commit_enqueue("batch", campaign.pk)
    else:
        raise ValidationError(_("Acción desconocida."), code="invalid")
    send.refresh_from_db()
    send_audit(
        actor=user, campaign=campaign, event=f"resolve_{action}", send=send.pk, email=send.email
    )
    return send
