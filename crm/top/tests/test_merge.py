"""The merge of duplicate contacts and accounts (crm.top.merge, issue 10).

The first tests read every relation Django knows to Contact and Account, so a new model with a
key to either fails here, by name, until crm.top.merge says how a merge handles it.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from campaigns.models import SegmentMember, Send, Suppression, TrackingEvent
from campaigns.tests.factories import (
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    SuppressionFactory,
    TopicFactory,
    TrackingEventFactory,
)
from contacts.models import Consent, ConsentLatest, Contact
from contacts.selectors import contact_has_consent
from contacts.services import consent_record
from contacts.tests.factories import ContactFactory
from crm.core.models import AuditEvent
from crm.top import merge
from crm.top.merge import accounts_merge, contacts_merge
from opportunities.models import Activity, Opportunity, TierChange
from opportunities.tests.factories import ActivityFactory, OpportunityFactory
from support.models import ContactSatisfaction, Survey, SurveyRound, Ticket
from support.tests.factories import SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db


def relation_keys(model) -> set[str]:
    """Every relation pointing at `model` (reverse keys, one-to-one, many-to-many, hidden ones
    with related_name="+", generic relations) and its tag managers."""
    keys = set()
    for f in model._meta.get_fields(include_hidden=True):
        if f.auto_created and not f.concrete:  # a reverse relation: another model's key here
            keys.add(f"{f.related_model._meta.label}.{f.field.name}")
        elif f.is_relation and f.many_to_many and not f.auto_created:  # tags (TaggableManager)
            keys.add(f"{model._meta.label}.{f.name}")
    for f in model._meta.private_fields:  # GenericRelation
        keys.add(f"{f.related_model._meta.label}.{f.name}")
    return keys


@pytest.mark.parametrize(
    ("model", "registry"),
    [(Contact, merge.CONTACT_RELATIONS), (Account, merge.ACCOUNT_RELATIONS)],
    ids=["contact", "account"],
)
def test_every_relation_is_handled_by_the_merge(model, registry):
    missing = sorted(relation_keys(model) - set(registry))
    assert not missing, (
        f"{model.__name__} has relations the merge does not handle: {', '.join(missing)}. "
        "Add them to crm/top/merge.py (CONTACT_RELATIONS / ACCOUNT_RELATIONS)."
    )
    stale = sorted(set(registry) - relation_keys(model))
    assert not stale, f"The merge registry names relations that no longer exist: {stale}"


def test_the_relation_check_sees_a_new_foreign_key(monkeypatch):
    """The guard itself: a relation left out of the registry is named."""
    registry = dict(merge.CONTACT_RELATIONS)
    del registry["support.Ticket.contact"]
    assert relation_keys(Contact) - set(registry) == {"support.Ticket.contact"}


@pytest.fixture
def pair(manager, rep):
    account = AccountFactory(owner=rep)
    survivor = ContactFactory(
        owner=rep,
        account=account,
        first_name="María",
        last_name="Pérez",
        email="maria@ejemplo.mx",
        job_title="",
        tags=["vip"],
    )
    loser = ContactFactory(
        owner=rep,
        account=account,
        first_name="Maria",
        last_name="Perez",
        email="mperez@gmail.com",
        job_title="Compras",
        tags=["feria", "vip"],
    )
    return survivor, loser


def test_merging_contacts_moves_every_related_row(manager, rep, pair):
    survivor, loser = pair
    opp = OpportunityFactory(owner=rep, account=survivor.account, contact=loser)
    activity = ActivityFactory(owner=rep, account=survivor.account, contact=loser)
    ticket = TicketFactory(account=survivor.account, contact=loser)
    survey = SurveyFactory(ticket=ticket, contact=loser, score=5, answered_at=timezone.now())
    consent = consent_record(contact=loser, action="grant", source="formulario")
    segment = SegmentFactory(kind="estatico")
    SegmentMember.objects.create(segment=segment, contact=loser)
    send = SendFactory(contact=loser)
    event = TrackingEventFactory(send=send)
    earlier = ContactFactory(owner=rep, account=survivor.account, merged_into=loser)

    result = contacts_merge(
        actor=manager,
        survivor_id=survivor.pk,
        other_ids=[loser.pk],
        choices={"job_title": loser.pk, "email": loser.pk},
    )

    assert result.pk == survivor.pk
    for row in (opp, activity, ticket, survey, consent, send, event):
        row.refresh_from_db()
        assert row.contact_id == survivor.pk, row
    assert SegmentMember.objects.get(segment=segment).contact_id == survivor.pk
    assert ConsentLatest.objects.get(contact=survivor).entry_id == consent.pk
    assert not ConsentLatest.objects.filter(contact=loser).exists()
    assert ContactSatisfaction.objects.get(contact=survivor).answers == 1
    assert not ContactSatisfaction.objects.filter(contact=loser).exists()
    assert sorted(survivor.tags.names()) == ["feria", "vip"]
    earlier.refresh_from_db()
    assert earlier.merged_into_id == survivor.pk  # no chains

    survivor.refresh_from_db()
    loser.refresh_from_db()
    assert survivor.job_title == "Compras" and survivor.email == "mperez@gmail.com"
    assert survivor.first_name == "María"
    assert loser.merged_into_id == survivor.pk and loser.archived_at and loser.merged_at
    assert loser.email == ""  # the survivor took it (emails are unique)
    # History: the survivor's change is a history row; the loser keeps its own rows.
    assert survivor.history.first().history_change_reason == f"Fusión de #{loser.pk}"
    assert survivor.history.first().history_user == manager
    assert loser.history.count() >= 2
    assert loser.history.first().history_change_reason == f"Fusionado en #{survivor.pk}"
    event = AuditEvent.objects.get(action=AuditEvent.Action.UPDATE, target__endswith=survivor.pk)
    assert event.detail["merged"] == [loser.pk]
    assert event.actor == manager


def test_the_summary_counts_what_moves(rep, pair):
    survivor, loser = pair
    ActivityFactory.create_batch(3, owner=rep, account=survivor.account, contact=loser)
    OpportunityFactory(owner=rep, account=survivor.account, contact=survivor)
    rows = {
        str(row["label"]): row["counts"]
        for row in merge.merge_summary(model=Contact, records=[survivor, loser])
    }
    assert rows["Actividades"] == [0, 3]
    assert rows["Oportunidades"] == [1, 0]
    assert rows["Incidencias"] == [0, 0]


def test_a_send_to_both_for_one_campaign_keeps_one_row_and_every_event(manager, pair):
    survivor, loser = pair
    campaign = CampaignFactory()
    pending = SendFactory(campaign=campaign, contact=survivor, status=Send.Status.PENDING)
    sent = SendFactory(campaign=campaign, contact=loser, status=Send.Status.SENT)
    opened = timezone.now() - timedelta(hours=2)
    TrackingEventFactory(send=sent, at=opened)
    sent.first_opened_at = opened
    sent.save()
    other_campaign = SendFactory(contact=loser)

    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})

    kept = Send.objects.get(campaign=campaign)
    assert kept.pk == sent.pk and kept.contact_id == survivor.pk
    assert kept.first_opened_at == opened
    assert not Send.objects.filter(pk=pending.pk).exists()  # never a second email
    assert TrackingEvent.objects.get(campaign=campaign).send_id == kept.pk
    other_campaign.refresh_from_db()
    assert other_campaign.contact_id == survivor.pk


def test_an_automation_greeting_to_both_keeps_the_one_sent(manager, pair):
    from campaigns.models import AutomationDelivery
    from campaigns.tests.factories import AutomationFactory

    survivor, loser = pair
    automation = AutomationFactory()
    step = automation.steps.get()
    pending = AutomationDelivery.objects.create(
        automation=automation, step=step, contact=survivor, occurrence="2026",
        email=survivor.email, due_at=timezone.now(),
    )  # fmt: skip
    sent = AutomationDelivery.objects.create(
        automation=automation, step=step, contact=loser, occurrence="2026", email=loser.email,
        due_at=timezone.now(), status=AutomationDelivery.Status.SENT, sent_at=timezone.now(),
    )  # fmt: skip
    last_year = AutomationDelivery.objects.create(
        automation=automation, step=step, contact=loser, occurrence="2025", email=loser.email,
        due_at=timezone.now(), status=AutomationDelivery.Status.SENT,
    )  # fmt: skip

    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})

    kept = AutomationDelivery.objects.get(occurrence="2026")
    assert kept.pk == sent.pk and kept.contact_id == survivor.pk  # never greeted twice
    assert not AutomationDelivery.objects.filter(pk=pending.pk).exists()
    last_year.refresh_from_db()
    assert last_year.contact_id == survivor.pk


def test_a_later_withdrawal_of_either_keeps_the_survivor_unemailable(manager, pair):
    survivor, loser = pair
    now = timezone.now()
    consent_record(contact=survivor, action="grant", source="formulario", at=now - timedelta(9))
    consent_record(contact=loser, action="grant", source="formulario", at=now - timedelta(8))
    consent_record(contact=loser, action="withdraw", source="baja", at=now - timedelta(5))
    assert contact_has_consent(contact=survivor)

    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})

    assert not contact_has_consent(contact=survivor)
    assert Consent.objects.filter(contact=survivor).count() == 3  # the whole ledger, kept
    latest = ConsentLatest.objects.get(contact=survivor, channel="email", topic=None)
    assert latest.action == "withdraw"


def test_a_withdrawal_and_a_grant_at_the_same_instant_leave_no_consent(manager, pair):
    survivor, loser = pair
    at = timezone.now() - timedelta(days=1)
    topic = TopicFactory()
    consent_record(contact=survivor, action="grant", source="formulario", at=at, topic=topic)
    consent_record(contact=loser, action="withdraw", source="baja", at=at, topic=topic)
    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    assert ConsentLatest.objects.get(contact=survivor, topic=topic).action == "withdraw"


def test_a_grant_after_the_other_withdrawal_is_a_new_consent(manager, pair):
    survivor, loser = pair
    now = timezone.now()
    consent_record(contact=loser, action="withdraw", source="baja", at=now - timedelta(9))
    consent_record(contact=survivor, action="grant", source="formulario", at=now - timedelta(2))
    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    assert contact_has_consent(contact=survivor)


def test_a_suppressed_address_of_the_loser_suppresses_the_survivor(manager, pair):
    survivor, loser = pair
    SuppressionFactory(email=loser.email, reason=Suppression.Reason.COMPLAINT)
    SuppressionFactory(email="otra@ejemplo.mx", reason=Suppression.Reason.BOUNCE)
    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    assert Suppression.objects.get(email=survivor.email).reason == Suppression.Reason.COMPLAINT


def test_survey_rounds_asked_to_both_keep_both_answers(manager, pair):
    survivor, loser = pair
    round_ = SurveyRound.objects.create(name="NPS 2026", created_by=manager)
    Survey.objects.create(kind="nps", contact=survivor, round=round_, score=9)
    theirs = Survey.objects.create(kind="nps", contact=loser, round=round_, score=3)
    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    theirs.refresh_from_db()
    assert theirs.contact_id == survivor.pk and theirs.round_id is None
    assert Survey.objects.filter(contact=survivor).count() == 2


def test_static_segments_of_both_keep_one_membership(manager, pair):
    survivor, loser = pair
    segment = SegmentFactory(kind="estatico")
    SegmentMember.objects.create(segment=segment, contact=survivor)
    SegmentMember.objects.create(segment=segment, contact=loser)
    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    assert list(SegmentMember.objects.values_list("contact_id", flat=True)) == [survivor.pk]


def unchanged(*records) -> list:
    return [(type(r).objects.filter(pk=r.pk).values().get()) for r in records]


@pytest.mark.parametrize(
    "case",
    ["itself", "archived", "merged", "foreign_choice", "rep", "support", "other_team"],
)
def test_refusals_change_nothing(request, manager, rep, other_rep, support, pair, case):
    survivor, loser = pair
    actor, others, choices = manager, [loser.pk], {}
    error = ValidationError
    if case == "itself":
        others = [survivor.pk]
    elif case == "archived":
        Contact.objects.filter(pk=loser.pk).update(archived_at=timezone.now())
    elif case == "merged":
        Contact.objects.filter(pk=loser.pk).update(merged_into=survivor)
    elif case == "foreign_choice":
        choices = {"email": ContactFactory(owner=rep).pk}
    elif case in ("rep", "support"):
        actor, error = request.getfixturevalue(case), PermissionDenied
    elif case == "other_team":
        Contact.objects.filter(pk=loser.pk).update(owner=other_rep)
        error = PermissionDenied
    ActivityFactory(owner=rep, account=survivor.account, contact=loser)
    before = unchanged(survivor, loser)
    events = AuditEvent.objects.count()
    with pytest.raises(error):
        contacts_merge(actor=actor, survivor_id=survivor.pk, other_ids=others, choices=choices)
    assert unchanged(survivor, loser) == before
    assert Activity.objects.get().contact_id == loser.pk
    assert AuditEvent.objects.count() == events


def test_merging_twice_is_refused_the_second_time(manager, pair):
    survivor, loser = pair
    contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})
    with pytest.raises(ValidationError):
        contacts_merge(actor=manager, survivor_id=survivor.pk, other_ids=[loser.pk], choices={})


def test_a_field_that_breaks_a_rule_rolls_everything_back(manager, rep, pair):
    survivor, loser = pair
    ActivityFactory(owner=rep, account=survivor.account, contact=loser)
    Contact.objects.filter(pk=loser.pk).update(phone="12")  # legacy data, not a number
    with pytest.raises(ValidationError):
        contacts_merge(
            actor=manager,
            survivor_id=survivor.pk,
            other_ids=[loser.pk],
            choices={"phone": loser.pk},
        )
    assert Activity.objects.get().contact_id == loser.pk
    assert Contact.objects.get(pk=loser.pk).merged_into_id is None


def test_merging_accounts_moves_contacts_deals_tickets_and_tags(manager, rep):
    survivor = AccountFactory(owner=rep, name="Grupo Ferretero", tags=["a"])
    loser = AccountFactory(owner=rep, name="Grupo Ferretero SA", website="https://gf.mx")
    loser.tags.add("b")
    contact = ContactFactory(owner=rep, account=loser)
    opp = OpportunityFactory(owner=rep, account=loser, contact=contact)
    activity = ActivityFactory(owner=rep, account=loser)
    ticket = TicketFactory(account=loser, contact=contact)
    change = TierChange.objects.create(account=loser, from_tier="D", to_tier="C", revenue=1)

    accounts_merge(
        actor=manager,
        survivor_id=survivor.pk,
        other_ids=[loser.pk],
        choices={"website": loser.pk},
    )

    for row in (contact, opp, activity, ticket, change):
        row.refresh_from_db()
        assert row.account_id == survivor.pk, row
    assert contact.history.first().history_change_reason == "Fusión de cuentas"
    survivor.refresh_from_db()
    loser.refresh_from_db()
    assert survivor.website == "https://gf.mx" and survivor.name == "Grupo Ferretero"
    assert sorted(survivor.tags.names()) == ["a", "b"]
    assert loser.merged_into_id == survivor.pk and loser.is_archived
    assert Opportunity.objects.filter(account=loser).count() == 0
    assert Ticket.objects.filter(account=loser).count() == 0


def test_default_choices_take_the_survivor_unless_blank(pair):
    survivor, loser = pair
    choices = merge.default_choices(model=Contact, survivor=survivor, others=[loser])
    assert choices["first_name"] == survivor.pk
    assert choices["job_title"] == loser.pk  # the survivor's is blank


def test_duplicate_groups_find_phones_across_columns_and_folded_names(manager, rep):
    account = AccountFactory(owner=rep)
    a = ContactFactory(owner=rep, account=account, phone="+525511112222", mobile="")
    b = ContactFactory(owner=rep, account=account, phone="", mobile="+525511112222")
    c = ContactFactory(owner=rep, account=account, first_name="JOSÉ", last_name="Núñez")
    d = ContactFactory(owner=rep, account=account, first_name="jose", last_name="nunez ")
    elsewhere = AccountFactory(owner=rep)
    ContactFactory(owner=rep, account=elsewhere, first_name="José", last_name="Núñez")
    archived = ContactFactory(owner=rep, account=account, first_name="Jose", last_name="Nuñez")
    Contact.objects.filter(pk=archived.pk).update(archived_at=timezone.now())

    phones = merge.duplicate_groups(user=manager, model=Contact, criterion="telefono")
    assert [g.ids for g in phones] == [[a.pk, b.pk]]
    names = merge.duplicate_groups(user=manager, model=Contact, criterion="nombre")
    assert [g.ids for g in names] == [[c.pk, d.pk]]


def test_duplicate_groups_show_only_what_the_user_may_merge(manager, rep, other_rep):
    AccountFactory.create_batch(2, owner=rep, tax_id="GODE561231GR8")
    AccountFactory.create_batch(2, owner=other_rep, tax_id="XAXX010101000")
    groups = merge.duplicate_groups(user=manager, model=Account, criterion="id-fiscal")
    assert [g.key for g in groups] == ["GODE561231GR8"]
    assert not list(merge.duplicate_groups(user=rep, model=Account, criterion="id-fiscal"))


def test_duplicate_groups_of_accounts_by_email_phone_and_name(admin_user, rep):
    AccountFactory(owner=rep, email="Ventas@acme.mx", phone="+525512345678", name="Ácme")
    AccountFactory(owner=rep, email="ventas@acme.mx", phone="+525512345678", name="acme")
    for criterion in ("correo", "telefono", "nombre"):
        groups = list(merge.duplicate_groups(user=admin_user, model=Account, criterion=criterion))
        assert len(groups) == 1 and groups[0].size == 2, criterion


def test_a_huge_group_is_counted_not_listed(admin_user, rep, settings):
    account = AccountFactory(owner=rep)
    ContactFactory.create_batch(
        merge.MAX_SHOWN + 1, owner=rep, account=account, phone="+525500000000"
    )
    (group,) = merge.duplicate_groups(user=admin_user, model=Contact, criterion="telefono")
    assert group.size == merge.MAX_SHOWN + 1 and group.members == []
