"""Duplicates and merges of contacts and accounts (issue 10, "Merge").

A merge spans every app (each app's rows point at the contact or the account), so it lives at
the top of the house. One record survives; the others are archived with a pointer to it
(`merged_into`) and keep their own history, and every related row moves to the survivor in the
same transaction. `CONTACT_RELATIONS` and `ACCOUNT_RELATIONS` say, for every relation that
points at the model, how it is handled: a new model with a key to Contact or Account fails
crm/top/tests/test_merge.py until it is added there.

Who merges: administrators, and managers over the records they may edit (their own and their
teams'). Reps do not: a merge moves other people's opportunities, activities and tickets.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import (
    CharField,
    Count,
    F,
    Func,
    Model,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Lower, Replace, Trim
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.utils import bulk_update_with_history
from taggit.models import TaggedItem

from accounts.models import Account
from campaigns.models import (
    AutomationDelivery,
    FormSubmission,
    SegmentMember,
    Send,
    Suppression,
    TrackingEvent,
)
from campaigns.services.suppression import suppress
from contacts.models import Consent, ConsentLatest, Contact, ScoreChange
from crm.core.audit import audit
from crm.core.forms_utils import ListPage
from crm.core.models import AuditEvent, User
from crm.core.permissions import editable_by_owner_q
from opportunities.models import Activity, LeadAssignment, Opportunity, TierChange
from support.models import Survey, Ticket
from support.services.surveys import contact_satisfaction_refresh

MAX_RECORDS = 10  # records merged at once
MAX_SHOWN = 25  # a bigger group (a switchboard number shared by a whole company) is only counted

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "job_title",
    "account",
    "owner",
    "lifecycle",
    "lead_source",
    "lead_score",
    "birthday",
    "time_zone",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
)
ACCOUNT_FIELDS = (
    "name",
    "legal_name",
    "tax_id",
    "industry",
    "size",
    "relationship",
    "status",
    "phone",
    "email",
    "website",
    "owner",
    "tier_override",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "notes",
)


# --- who ------------------------------------------------------------------------------------


def can_merge(user: User) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.is_admin_role or user.is_manager)
    )


def mergeable_q(user: User) -> Q:
    """The records `user` may merge: those they may edit, if their role merges at all."""
    return editable_by_owner_q(user) if can_merge(user) else Q(pk__in=[])


def merge_candidates(*, user: User, model: type[Model], ids: list[int]) -> list[Model]:
    """The live records of `ids` that `user` may merge, in the order asked."""
    related = ("owner", "account") if model is Contact else ("owner",)
    found = {
        r.pk: r
        for r in model.objects.filter(mergeable_q(user), pk__in=ids, archived_at__isnull=True)
        .select_related(*related)
        .prefetch_related("tags")
    }
    return [found[pk] for pk in dict.fromkeys(ids) if pk in found]


# --- duplicates -----------------------------------------------------------------------------

# The accented letters of Spanish in both cases (SQLite's lower() folds ASCII only); few, since
# each is one nested REPLACE and SQLite's parser limits the depth.
_FOLDS = {"a": "áÁ", "e": "éÉ", "i": "íÍ", "o": "óÓ", "u": "úÚüÜ", "n": "ñÑ"}


def folded(expression) -> Func:
    """Lower-case and accent-free in SQL, as crm.core.text.fold, so "José" groups with "jose"."""
    result = Lower(Trim(expression))
    for plain, accented in _FOLDS.items():
        for letter in accented:
            result = Replace(result, Value(letter), Value(plain))
    return result


@dataclass(frozen=True)
class Criterion:
    label: str
    # One expression per column holding the value: a contact's phone and mobile are one number.
    keys: tuple
    where: Q = field(default_factory=Q)


CONTACT_CRITERIA = {
    # A contact's email is unique (contact_email_unique_ci), so it never repeats among contacts.
    "telefono": Criterion(
        gettext_lazy("Mismo teléfono o móvil"), (F("phone_digits"), F("mobile_digits"))
    ),
    "nombre": Criterion(
        gettext_lazy("Mismo nombre en la misma cuenta"),
        (
            Concat(
                Cast("account_id", output_field=CharField()),
                Value("|"),
                folded(F("first_name")),
                Value(" "),
                folded(F("last_name")),
            ),
        ),
        Q(account__isnull=False),
    ),
}
ACCOUNT_CRITERIA = {
    "id-fiscal": Criterion(gettext_lazy("Mismo identificador fiscal"), (F("tax_id"),)),
    "correo": Criterion(gettext_lazy("Mismo correo electrónico"), (Lower("email"),)),
    "telefono": Criterion(gettext_lazy("Mismo teléfono"), (F("phone_digits"),)),
    "nombre": Criterion(gettext_lazy("Mismo nombre"), (folded(F("name")),)),
}


def criteria_for(model: type[Model]) -> dict[str, Criterion]:
    return CONTACT_CRITERIA if model is Contact else ACCOUNT_CRITERIA


@dataclass
class DuplicateGroup:
    key: str
    size: int
    members: list = field(default_factory=list)  # empty when the group is too big to list

    @property
    def ids(self) -> list[int]:
        return [m.pk for m in self.members]

    @property
    def label(self) -> str:
        """The shared value as shown (a name's key starts with its account's id)."""
        return self.key.split("|", 1)[-1]


def duplicate_groups(
    *, user: User, model: type[Model], criterion: str, page: int = 1, per_page: int = 20
) -> ListPage:
    """One page of groups of live records sharing a value, among those `user` may merge.

    Three queries whatever the number of rows: the page's keys (GROUP BY over the normalised
    column, or over the union of the columns), then their members, by the same indexes.
    """
    spec = criteria_for(model)[criterion]
    if not can_merge(user):
        return ListPage(object_list=[], number=page, per_page=per_page, has_next=False)
    base = model.objects.filter(mergeable_q(user), spec.where, archived_at__isnull=True)
    parts = [
        base.annotate(k=expr).exclude(k="").exclude(k__isnull=True).order_by().values("pk", "k")
        for expr in spec.keys
    ]
    keyed = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    sql, params = keyed.query.sql_with_params()
    bottom = (page - 1) * per_page
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.k, COUNT(DISTINCT u.pk) FROM ({sql}) u GROUP BY u.k "  # noqa: S608
            "HAVING COUNT(DISTINCT u.pk) > 1 ORDER BY COUNT(DISTINCT u.pk) DESC, u.k "
            "LIMIT %s OFFSET %s",
            [*params, per_page + 1, bottom],
        )
        rows = cursor.fetchall()
    has_next = len(rows) > per_page
    groups = {str(k): DuplicateGroup(key=str(k), size=n) for k, n in rows[:per_page]}
    listed = [g.key for g in groups.values() if g.size <= MAX_SHOWN]
    if listed:
        names = [f"k{i}" for i in range(len(spec.keys))]
        condition = Q()
        for name in names:
            condition |= Q(**{f"{name}__in": listed})
        related = ("owner", "account") if model is Contact else ("owner",)
        members = (
            base.annotate(**dict(zip(names, spec.keys, strict=True)))
            .filter(condition)
            .select_related(*related)
            .order_by("pk")
        )
        for member in members:
            for name in names:
                group = groups.get(str(getattr(member, name)))
                if group is not None and member not in group.members:
                    group.members.append(member)
    return ListPage(
        object_list=list(groups.values()), number=page, per_page=per_page, has_next=has_next
    )


# --- what moves -----------------------------------------------------------------------------

Handler = Callable[[Model, list[int], User, dict], None]


@dataclass(frozen=True)
class Relation:
    """How one relation to the merged model is handled, and what the merge screen counts."""

    handle: Handler | None  # None: the rows stay where they are (history), or another handles it
    label: str = ""  # counted on the merge screen when set
    count_model: type[Model] | None = None
    count_field: str = ""


def _move(model: type[Model], fk: str) -> Handler:
    def handle(survivor, losers, actor, detail):
        moved = model._base_manager.filter(**{f"{fk}_id__in": losers}).update(
            **{f"{fk}_id": survivor.pk}
        )
        detail.setdefault("moved", {})[model._meta.label] = moved

    return handle


def _move_consents(survivor, losers, actor, detail):
    """Every ledger entry moves: the merged person's ledger is both ledgers."""
    moved = Consent.objects.filter(contact_id__in=losers).update(contact_id=survivor.pk)
    detail.setdefault("moved", {})["contacts.Consent"] = moved


def _recompute_consent_latest(survivor, losers, actor, detail):
    """The projection again from the merged ledger: the latest entry per channel and topic, and
    a withdrawal at the same instant as a grant wins (never email someone who said no)."""
    ConsentLatest.objects.filter(contact_id__in=[survivor.pk, *losers]).delete()
    latest: dict[tuple, Consent] = {}
    for entry in Consent.objects.filter(contact_id=survivor.pk).order_by("at", "pk"):
        key = (entry.channel, entry.topic_id)
        current = latest.get(key)
        rank = (entry.at, entry.action == Consent.Action.WITHDRAW, entry.pk)
        if current is None or rank > (
            current.at,
            current.action == Consent.Action.WITHDRAW,
            current.pk,
        ):
            latest[key] = entry
    ConsentLatest.objects.bulk_create(
        ConsentLatest(
            contact_id=survivor.pk,
            channel=entry.channel,
            topic_id=entry.topic_id,
            entry=entry,
            action=entry.action,
        )
        for entry in latest.values()
    )


def _move_segment_members(survivor, losers, actor, detail):
    """Static segments: the survivor joins each list any of them was on, once."""
    already = set(
        SegmentMember.objects.filter(contact_id=survivor.pk).values_list("segment_id", flat=True)
    )
    for member in SegmentMember.objects.filter(contact_id__in=losers).order_by("pk"):
        if member.segment_id in already:
            member.delete()
        else:
            member.contact_id = survivor.pk
            member.save(update_fields=["contact"])
            already.add(member.segment_id)


# The send that stays when both had one for a campaign: the one that went furthest.
SEND_RANK = [
    Send.Status.SENT,
    Send.Status.DOUBT,
    Send.Status.SENDING,
    Send.Status.FAILED,
    Send.Status.RETRY,
    Send.Status.PENDING,
    Send.Status.SKIPPED,
    Send.Status.CANCELLED,
]


def _merge_sends(survivor, losers, actor, detail):
    """The ledger is one row per campaign and contact: where both had one, the row that went
    furthest stays, takes the other's tracking events and first open/click, and the other goes
    (recorded in the audit detail). A pending duplicate so never becomes a second email."""
    sends = Send.objects.select_for_update().filter(contact_id__in=[survivor.pk, *losers])
    by_campaign: dict[int, list[Send]] = defaultdict(list)
    for send in sends.order_by("campaign_id", "pk"):
        by_campaign[send.campaign_id].append(send)
    dropped = []
    for rows in by_campaign.values():
        rows.sort(key=lambda s: (SEND_RANK.index(s.status), s.contact_id != survivor.pk, s.pk))
        keep, others = rows[0], rows[1:]
        for other in others:
            TrackingEvent.objects.filter(send=other).update(send=keep, contact_id=survivor.pk)
            for name in ("first_opened_at", "first_clicked_at", "bounced_at"):
                values = [v for v in (getattr(keep, name), getattr(other, name)) if v]
                setattr(keep, name, min(values) if values else None)
            dropped.append(
                {"campaign": other.campaign_id, "email": other.email, "st": other.status}
            )
            other.delete()
        keep.contact_id = survivor.pk
        keep.save(update_fields=["contact", "first_opened_at", "first_clicked_at", "bounced_at"])
    if dropped:
        detail["dropped_sends"] = dropped


# Which of two deliveries of one automation step and occurrence stays: the one that went out
# (or may have: "en duda"), so that the merged person is never greeted twice.
DELIVERY_RANK = [
    AutomationDelivery.Status.SENT,
    AutomationDelivery.Status.DOUBT,
    AutomationDelivery.Status.SENDING,
    AutomationDelivery.Status.SUPPRESSED,
    AutomationDelivery.Status.PENDING,
    AutomationDelivery.Status.FAILED,
    AutomationDelivery.Status.SKIPPED,
]


def _merge_automation_deliveries(survivor, losers, actor, detail):
    """One delivery per automation step, contact and occurrence (UNIQUE): where both had one,
    the one that went furthest stays on the survivor and the other goes (in the audit detail)."""
    rows = AutomationDelivery.objects.select_for_update().filter(
        contact_id__in=[survivor.pk, *losers]
    )
    by_key: dict[tuple, list[AutomationDelivery]] = defaultdict(list)
    for row in rows.order_by("pk"):
        by_key[(row.step_id, row.occurrence)].append(row)
    dropped = []
    for group in by_key.values():
        group.sort(key=lambda d: (DELIVERY_RANK.index(d.status), d.contact_id != survivor.pk, d.pk))
        keep, others = group[0], group[1:]
        for other in others:
            dropped.append({"step": other.step_id, "on": other.occurrence, "st": other.status})
            other.delete()
        if keep.contact_id != survivor.pk:
            AutomationDelivery.objects.filter(pk=keep.pk).update(contact_id=survivor.pk)
    if dropped:
        detail["dropped_automation_deliveries"] = dropped


def _move_surveys(survivor, losers, actor, detail):
    """A survey round asks each contact once: the loser's answer to a round the survivor was
    also asked in is kept as an answer outside the round."""
    rounds = set(
        Survey.objects.filter(contact_id=survivor.pk, round__isnull=False).values_list(
            "round_id", flat=True
        )
    )
    for survey in Survey.objects.filter(contact_id__in=losers).order_by("pk"):
        if survey.round_id in rounds:
            survey.round = None
        elif survey.round_id:
            rounds.add(survey.round_id)
        survey.contact_id = survivor.pk
        survey.save(update_fields=["contact", "round"])


def _refresh_satisfaction(survivor, losers, actor, detail):
    """Derived from the answers, which moved: computed again for everyone involved."""
    for pk in (*losers, survivor.pk):
        contact_satisfaction_refresh(contact_id=pk)


def _union_tags(survivor, losers, actor, detail):
    names = set(
        TaggedItem.objects.filter(
            content_type__app_label=survivor._meta.app_label,
            content_type__model=survivor._meta.model_name,
            object_id__in=losers,
        ).values_list("tag__name", flat=True)
    )
    if names:
        survivor.tags.add(*sorted(names))


def _repoint_merged(model: type[Model]) -> Handler:
    """Records merged earlier into a loser now point at the survivor (no chains)."""

    def handle(survivor, losers, actor, detail):
        model.objects.filter(merged_into_id__in=losers).update(merged_into_id=survivor.pk)

    return handle


def _move_contacts_of_account(survivor, losers, actor, detail):
    """A contact's account is part of its history: saved through it, by the merging user."""
    contacts = list(Contact.objects.select_for_update().filter(account_id__in=losers))
    for contact in contacts:
        contact.account_id = survivor.pk
    if contacts:
        bulk_update_with_history(
            contacts,
            Contact,
            ["account"],
            default_user=actor,
            default_change_reason=_("Fusión de cuentas"),
        )
    detail.setdefault("moved", {})["contacts.Contact"] = len(contacts)


KEEP = Relation(None)

# Keys: "<app>.<Model>.<field pointing here>", as test_merge builds them from the model's meta.
CONTACT_RELATIONS: dict[str, Relation] = {
    "contacts.Consent.contact": Relation(
        _move_consents, gettext_lazy("Consentimientos"), Consent, "contact"
    ),
    "contacts.ConsentLatest.contact": Relation(_recompute_consent_latest),
    "opportunities.Opportunity.contact": Relation(
        _move(Opportunity, "contact"), gettext_lazy("Oportunidades"), Opportunity, "contact"
    ),
    # Each MQL crossing's routing, with the score history it answers (moved below).
    "opportunities.LeadAssignment.contact": Relation(
        _move(LeadAssignment, "contact"),
        gettext_lazy("Leads asignados"),
        LeadAssignment,
        "contact",
    ),
    "opportunities.Activity.contact": Relation(
        _move(Activity, "contact"), gettext_lazy("Actividades"), Activity, "contact"
    ),
    "support.Ticket.contact": Relation(
        _move(Ticket, "contact"), gettext_lazy("Incidencias"), Ticket, "contact"
    ),
    "support.Survey.contact": Relation(_move_surveys, gettext_lazy("Encuestas"), Survey, "contact"),
    "support.ContactSatisfaction.contact": Relation(_refresh_satisfaction),
    "campaigns.Send.contact": Relation(
        _merge_sends, gettext_lazy("Envíos de campañas"), Send, "contact"
    ),
    # After the sends: the events of a dropped send already point at the one kept.
    "campaigns.TrackingEvent.contact": Relation(_move(TrackingEvent, "contact")),
    "campaigns.SegmentMember.contact": Relation(
        _move_segment_members, gettext_lazy("Listas estáticas"), SegmentMember, "contact"
    ),
    "campaigns.Segment.members": KEEP,  # the many-to-many through SegmentMember, above
    "campaigns.AutomationDelivery.contact": Relation(
        _merge_automation_deliveries,
        gettext_lazy("Envíos de automatizaciones"),
        AutomationDelivery,
        "contact",
    ),
    "campaigns.FormSubmission.contact": Relation(
        _move(FormSubmission, "contact"),
        gettext_lazy("Envíos de formularios"),
        FormSubmission,
        "contact",
    ),
    # The score history moves; the survivor's score is recomputed by the next event or night.
    "contacts.ScoreChange.contact": Relation(_move(ScoreChange, "contact")),
    "contacts.Contact.merged_into": Relation(_repoint_merged(Contact)),
    "contacts.Contact.tags": Relation(_union_tags),
    "taggit.TaggedItem.tagged_items": KEEP,  # the same tags, handled by "tags"
}

ACCOUNT_RELATIONS: dict[str, Relation] = {
    "contacts.Contact.account": Relation(
        _move_contacts_of_account, gettext_lazy("Contactos"), Contact, "account"
    ),
    "opportunities.Opportunity.account": Relation(
        _move(Opportunity, "account"), gettext_lazy("Oportunidades"), Opportunity, "account"
    ),
    "opportunities.Activity.account": Relation(
        _move(Activity, "account"), gettext_lazy("Actividades"), Activity, "account"
    ),
    "opportunities.TierChange.account": Relation(_move(TierChange, "account")),
    "support.Ticket.account": Relation(
        _move(Ticket, "account"), gettext_lazy("Incidencias"), Ticket, "account"
    ),
    "accounts.Account.merged_into": Relation(_repoint_merged(Account)),
    "contacts.HistoricalContact.account": KEEP,  # a contact's past account stays in its history
    "accounts.Account.tags": Relation(_union_tags),
    "taggit.TaggedItem.tagged_items": KEEP,
}


def relations_for(model: type[Model]) -> dict[str, Relation]:
    return CONTACT_RELATIONS if model is Contact else ACCOUNT_RELATIONS


def merge_summary(*, model: type[Model], records: list[Model]) -> list[dict]:
    """Per counted relation, how many rows each record has: one query for all of them."""
    counted = {k: r for k, r in relations_for(model).items() if r.label}
    annotations = {
        f"n{i}": Coalesce(
            Subquery(
                relation.count_model._base_manager.filter(
                    **{f"{relation.count_field}_id": OuterRef("pk")}
                )
                .order_by()
                .values(relation.count_field)
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        )
        for i, relation in enumerate(counted.values())
    }
    counts = {
        row["pk"]: row
        for row in model.objects.filter(pk__in=[r.pk for r in records])
        .annotate(**annotations)
        .values("pk", *annotations)
    }
    return [
        {"label": relation.label, "counts": [counts.get(r.pk, {}).get(f"n{i}", 0) for r in records]}
        for i, relation in enumerate(counted.values())
    ]


# --- the merge ------------------------------------------------------------------------------


def default_choices(*, model: type[Model], survivor: Model, others: list[Model]) -> dict:
    """Per field, whose value survives: the survivor's, unless blank, then the first other's."""
    choices = {}
    for name in fields_for(model):
        attname = model._meta.get_field(name).attname
        source = survivor
        if getattr(survivor, attname) in (None, ""):
            source = next((o for o in others if getattr(o, attname) not in (None, "")), survivor)
        choices[name] = source.pk
    return choices


def fields_for(model: type[Model]) -> tuple[str, ...]:
    return CONTACT_FIELDS if model is Contact else ACCOUNT_FIELDS


def contacts_merge(
    *, actor: User, survivor_id: int, other_ids: list[int], choices: dict[str, int]
) -> Contact:
    return _merge(
        model=Contact,
        actor=actor,
        survivor_id=survivor_id,
        other_ids=other_ids,
        choices=choices,
    )


def accounts_merge(
    *, actor: User, survivor_id: int, other_ids: list[int], choices: dict[str, int]
) -> Account:
    return _merge(
        model=Account,
        actor=actor,
        survivor_id=survivor_id,
        other_ids=other_ids,
        choices=choices,
    )


@transaction.atomic
def _merge(
    *,
    model: type[Model],
    actor: User,
    survivor_id: int,
    other_ids: list[int],
    choices: dict[str, int],
):
    """Fold `other_ids` into `survivor_id`, taking each field from the record `choices` names.

    All or nothing: the rows are locked, every check runs before the first write, and any
    error leaves the database as it was.
    """
    if not can_merge(actor):
        raise PermissionDenied(_("Tu rol no puede fusionar registros."))
    losers = [pk for pk in dict.fromkeys(other_ids) if pk != survivor_id]
    if survivor_id in other_ids or not losers:
        raise ValidationError(_("Elige al menos dos registros distintos para fusionar."))
    if len(losers) + 1 > MAX_RECORDS:
        raise ValidationError(
            _("Se pueden fusionar como mucho %(n)s registros a la vez.") % {"n": MAX_RECORDS}
        )
    ids = [survivor_id, *losers]
    locked = {r.pk: r for r in model.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(locked) != len(ids):
        raise ValidationError(_("Alguno de los registros ya no existe."))
    allowed = set(model.objects.filter(mergeable_q(actor), pk__in=ids).values_list("pk", flat=True))
    if allowed != set(ids):
        raise PermissionDenied(_("No puedes fusionar alguno de estos registros."))
    for record in locked.values():
        if record.merged_into_id is not None:
            raise ValidationError(
                _("«%(name)s» ya se fusionó con otro registro.") % {"name": record}
            )
        if record.archived_at is not None:
            raise ValidationError(
                _("«%(name)s» está archivado: restáuralo antes de fusionarlo.") % {"name": record}
            )
    survivor = locked[survivor_id]
    emails = {r.email for r in locked.values() if getattr(r, "email", "")}
    values = {}
    for name in fields_for(model):
        source = choices.get(name, survivor_id)
        if source not in locked:
            raise ValidationError(_("Elige el valor de cada campo de uno de los registros."))
        attname = model._meta.get_field(name).attname
        values[attname] = getattr(locked[source], attname)

    now = timezone.now()
    detail: dict = {"merge": model._meta.label_lower, "into": survivor_id, "merged": losers}
    for relation in relations_for(model).values():
        if relation.handle is not None:
            relation.handle(survivor, losers, actor, detail)
    # The losers first: an email the survivor takes must leave its old record (it is unique).
    for pk in losers:
        loser = locked[pk]
        if model is Contact and loser.email and loser.email == values.get("email"):
            loser.email = ""
        loser.archived_at = now
        loser.merged_into_id = survivor_id
        loser.merged_at = now
        loser._change_reason = _("Fusionado en #%(pk)s") % {"pk": survivor_id}
        loser._history_user = actor
        loser.save()
    for attname, value in values.items():
        setattr(survivor, attname, value)
    survivor._change_reason = _("Fusión de #%(pks)s") % {"pks": ", #".join(map(str, losers))}
    survivor._history_user = actor
    survivor.full_clean()
    survivor.save()
    if model is Contact:
        _keep_suppressed(survivor=survivor, emails=emails, actor=actor)
    audit(actor=actor, action=AuditEvent.Action.UPDATE, target=survivor, detail=detail)
    return survivor


def _keep_suppressed(*, survivor: Contact, emails: set[str], actor: User) -> None:
    """A person who complained or was put on the suppression list under one address stays off
    the campaigns under the address the survivor keeps (a bounce belongs to the address only)."""
    if not survivor.email or not emails:
        return
    if Suppression.objects.filter(email=survivor.email).exists():
        return
    earlier = (
        Suppression.objects.filter(email__in=emails)
        .exclude(reason=Suppression.Reason.BOUNCE)
        .order_by("created_at")
        .first()
    )
    if earlier is not None:
        suppress(
            email=survivor.email,
            reason=earlier.reason,
            note=_("Fusión: %(email)s estaba en la lista de supresión.") % {"email": earlier.email},
            actor=actor,
        )
