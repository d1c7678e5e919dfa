"""Reads of the campaign editor: topics, the campaign list, one campaign, preview contacts.

Campaigns are not owned by a person (marketing works them as a team), so visibility is the
role's: whoever may read campaigns sees all of them; the views check the role.
"""

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from campaigns import content
from campaigns.eligibility import eligible_q
from campaigns.models import Campaign, Segment, Send
from campaigns.segments import segment_queryset
from contacts.models import Contact, Topic

PICKER_LIMIT = 10

# What each merge field reads, as a filter for "this contact has it empty" (missing data).
_EMPTY: dict[str, Q] = {
    "nombre": Q(first_name=""),
    "apellidos": Q(last_name=""),
    "nombre_completo": Q(first_name="", last_name=""),
    "correo": Q(email=""),
    "puesto": Q(job_title=""),
    "empresa": Q(account__isnull=True) | Q(account__name=""),
    "ciudad": Q(city=""),
    "vendedor": Q(owner__isnull=True) | Q(owner__first_name="", owner__last_name=""),
    "correo_vendedor": Q(owner__isnull=True) | Q(owner__email=""),
}


# --- Topics (boletines) ----------------------------------------------------------------------


def topic_list() -> QuerySet[Topic]:
    """Every topic with how many campaigns use it (a topic in use cannot be deleted)."""
    return Topic.objects.annotate(campaign_count=Count("campaigns")).order_by("name")


def topic_get(*, pk: int) -> Topic:
    return Topic.objects.get(pk=pk)


# --- Campaigns -------------------------------------------------------------------------------


def _sent_count() -> Subquery:
    sent = (
        Send.objects.filter(campaign=OuterRef("pk"), status=Send.Status.SENT)
        .order_by()
        .values("campaign")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(sent, output_field=IntegerField()), Value(0))


def campaign_list(*, filters: dict | None = None) -> QuerySet[Campaign]:
    """The campaigns of the list with its filters (status, topic, a word), newest first.

    Only ids are read from this queryset by crm.core.forms_utils.paginate; the page's rows come from
    `campaign_rows` (the counts are made for those 25 rows, not for every campaign).
    """
    filters = filters or {}
    qs = Campaign.objects.all()
    if status := filters.get("status"):
        qs = qs.filter(status__in=status if isinstance(status, list | tuple) else [status])
    if topic := filters.get("topic"):
        qs = qs.filter(topic=topic)
    if segment := filters.get("segment"):
        qs = qs.filter(segment=segment)
    if q := (filters.get("q") or "").strip():
        qs = qs.filter(Q(name__icontains=q) | Q(subject__icontains=q))
    return qs.order_by("-created_at", "-id")


def campaign_rows() -> QuerySet[Campaign]:
    """The rows of a page of the list: their topic, segment and messages sent."""
    return Campaign.objects.select_related("topic", "segment").annotate(sent_count=_sent_count())


def campaign_get(*, pk: int) -> Campaign:
    """One campaign with what its pages show (topic, segment, author); DoesNotExist if none."""
    return Campaign.objects.select_related("topic", "segment", "created_by", "sent_by").get(pk=pk)


def segment_choices(*, current: Segment | None = None) -> QuerySet[Segment]:
    """The segments a campaign may use: the live ones, and the one it already has."""
    q = Q(archived_at__isnull=True)
    if current is not None:
        q |= Q(pk=current.pk)
    return Segment.objects.filter(q).order_by("name", "id")


# --- Preview ---------------------------------------------------------------------------------


def _preview_base(campaign: Campaign) -> QuerySet[Contact]:
    if campaign.segment_id is None:
        return Contact.objects.none()
    return segment_queryset(campaign.segment).select_related("account", "owner")


def preview_contacts(
    *, campaign: Campaign, q: str = "", limit: int = PICKER_LIMIT
) -> list[Contact]:
    """Contacts of the campaign's segment to preview the message as (by name or email)."""
    qs = _preview_base(campaign)
    q = (q or "").strip()
    if q:
        for word in q.split()[:4]:
            qs = qs.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
            )
    return list(qs.order_by("last_name", "first_name", "id")[:limit])


def preview_contact(*, campaign: Campaign, contact_id: int | None) -> Contact | None:
    """The contact to preview as: the one chosen (only within the segment), else the first
    eligible contact of the segment, else its first contact; None when it has none."""
    qs = _preview_base(campaign)
    if contact_id is not None:
        return qs.filter(pk=contact_id).first()
    first = qs.filter(eligible_q(campaign.topic_id)).order_by("pk").first()
    return first or qs.order_by("pk").first()


@dataclass(frozen=True)
class MissingField:
    name: str
    label: str
    count: int


def campaign_merge_fields(campaign: Campaign) -> set[str]:
    """The merge fields the message uses without a `default` fallback."""
    used: set[str] = set()
    for field in ("subject", "subject_b", "preheader", "html_body", "text_body"):
        used |= content.merge_fields_used(getattr(campaign, field) or "")
    return used & set(content.MERGE_FIELDS)


def missing_merge_data(*, campaign: Campaign) -> list[MissingField]:
    """For each merge field used without a fallback, how many of the segment's eligible
    contacts have it empty (they would read a gap: "Hola ,"). One query for all fields."""
    fields = sorted(campaign_merge_fields(campaign))
    if not fields or campaign.segment_id is None:
        return []
    eligible = segment_queryset(campaign.segment).filter(eligible_q(campaign.topic_id))
    counts = eligible.aggregate(
        **{f"m_{name}": Count("pk", filter=_EMPTY[name]) for name in fields}
    )
    return [
        MissingField(name=name, label=str(content.MERGE_FIELDS[name]), count=counts[f"m_{name}"])
        for name in fields
        if counts[f"m_{name}"]
    ]
