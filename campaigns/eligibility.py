"""Who a campaign of a topic may write to: one definition, used when counting a segment,
when materialising the ledger, and again for each message as a worker claims it.

A contact is eligible when they are not archived, have an email address, their channel-wide
email consent is currently a grant, they have not withdrawn from the campaign's topic, and
their address is not on the suppression list (bounces, complaints, by hand).
"""

from collections.abc import Iterable

from django.db.models import Exists, FilteredRelation, OuterRef, Q
from django.utils.translation import gettext as _

from campaigns.models import Suppression
from contacts.models import Consent, ConsentLatest, Contact

EMAIL = Consent.Channel.EMAIL


def _latest(topic_id: int | None):
    latest = ConsentLatest.objects.filter(contact=OuterRef("pk"), channel=EMAIL)
    return (
        latest.filter(topic__isnull=True) if topic_id is None else latest.filter(topic_id=topic_id)
    )


def consent_q(topic_id: int | None) -> Q:
    """Consenting now: a channel-wide grant and, for a topic, no withdrawal from it."""
    q = Q(Exists(_latest(None).filter(action=Consent.Action.GRANT)))
    if topic_id is not None:
        q &= ~Q(Exists(_latest(topic_id).filter(action=Consent.Action.WITHDRAW)))
    return q


def suppressed_q() -> Q:
    return Q(Exists(Suppression.objects.filter(email=OuterRef("email"))))


def eligible_q(topic_id: int | None) -> Q:
    """The whole rule, as a filter over Contact."""
    return Q(archived_at__isnull=True) & ~Q(email="") & consent_q(topic_id) & ~suppressed_q()


def eligible_count_form(topic_id: int | None) -> tuple[dict, Q]:
    """The same rule as `eligible_q`, for a Count's filter: (aliases for the Contact queryset,
    the filter over them).

    Inside an aggregate's FILTER PostgreSQL cannot turn an EXISTS into a join: it probes the
    consent index once per contact (100,000 probes for the whole base, 2-3 times slower than
    the count itself). Here the latest channel-wide consent (and the topic's, for a topic) are
    LEFT JOINs instead, at most one row each (consent_latest_unique and
    consent_latest_topic_unique), which the planner hashes. The suppression list is an
    uncorrelated `NOT IN`, which PostgreSQL hashes once (a "hashed SubPlan") instead of probing
    its index per contact: half the time of a count of the whole base (145 → 70 ms at 100,000
    contacts), and the query may run in parallel. A list too big for the hash memory would be
    scanned per contact instead; campaigns.selectors.segments runs these counts with
    hash_mem_multiplier raised for that (room for about a million addresses). No NULL can
    make `NOT IN` false for all: both email columns are NOT NULL. Used by segment counts;
    filters (materialising, the claim re-check) keep `eligible_q`, which PostgreSQL plans as
    semi/anti joins.
    """
    channel = {"consent_latest__channel": EMAIL}
    aliases = {
        "_email_consent": FilteredRelation(
            "consent_latest", condition=Q(consent_latest__topic__isnull=True, **channel)
        )
    }
    # The join's IS NOT NULL first: a contact without a row would make `action = 'grant'`
    # NULL, which does not stop an AND, and the suppression list would be looked up for them.
    q = (
        Q(archived_at__isnull=True)
        & ~Q(email="")
        & Q(_email_consent__isnull=False)
        & Q(_email_consent__action=Consent.Action.GRANT)
        & ~Q(email__in=Suppression.objects.values("email"))
    )
    if topic_id is not None:
        aliases["_topic_consent"] = FilteredRelation(
            "consent_latest", condition=Q(consent_latest__topic_id=topic_id, **channel)
        )
        # No withdrawal from the topic: no row for it, or a grant (the only other action).
        q &= Q(_topic_consent__isnull=True) | Q(_topic_consent__action=Consent.Action.GRANT)
    return aliases, q


def eligible_contact_ids(contact_ids: Iterable[int], topic_id: int | None) -> set[int]:
    """Of these contacts, those eligible now (one query: the claim-time re-check of a batch)."""
    ids = list(contact_ids)
    if not ids:
        return set()
    return set(
        Contact.objects.filter(pk__in=ids).filter(eligible_q(topic_id)).values_list("pk", flat=True)
    )


def ineligible_reason(contact: Contact, topic_id: int | None) -> str:
    """Why this contact is not eligible ("" when they are), for a person to read."""
    if contact.archived_at is not None:
        return _("Contacto archivado.")
    if not contact.email:
        return _("Sin correo electrónico.")
    if Suppression.objects.filter(email=contact.email).exists():
        return _("La dirección está en la lista de supresión.")
    latest = {
        (row.topic_id, row.action)
        for row in ConsentLatest.objects.filter(contact=contact, channel=EMAIL)
    }
    if (None, Consent.Action.GRANT) not in latest:
        return _("Sin consentimiento para recibir correo.")
    if topic_id is not None and (topic_id, Consent.Action.WITHDRAW) in latest:
        return _("Se dio de baja de este tema.")
    return ""
