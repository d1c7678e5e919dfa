"""The lead score from behaviour: decay, one contact vs the nightly job, the task after an open or a
click (campaigns.scoring, campaigns.tasks.scoring)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns import scoring
from campaigns.models import CampaignLink, TrackingEvent
from campaigns.services import tracking
from campaigns.tasks.scoring import contacts_score_nightly as nightly_task
from campaigns.tests.factories import CampaignFactory, SendFactory, TrackingEventFactory
from contacts.models import Contact, Lifecycle, ScoreChange, ScoreRule
from contacts.scoring import active_rules
from contacts.tests.factories import ContactFactory, ScoreRuleFactory
from crm.celery import app
from crm.core.models import QueuedTask

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
NOW = timezone.now().replace(microsecond=0)


def _events(contact, kind, *ages_days, machine=False):
    send = SendFactory(contact=contact, sent_at=NOW - timedelta(days=400))
    for age in ages_days:
        TrackingEventFactory(send=send, kind=kind, at=NOW - timedelta(days=age), is_machine=machine)


def _score(contact) -> int:
    return Contact.objects.values_list("lead_score", flat=True).get(pk=contact.pk)


def test_an_event_one_half_life_old_counts_half():
    ScoreRuleFactory.behaviour(event=ScoreRule.Event.CLICKED, points=20, half_life_days=30)
    contact = ContactFactory(lead_score=0)
    _events(contact, TrackingEvent.Kind.CLICK, 30)
    change = scoring.contact_score_recompute(contact.pk, now=NOW)
    assert change.new_score == 10
    assert change.breakdown[0]["points"] == 10.0
    _events(contact, TrackingEvent.Kind.CLICK, 0, 60)  # +20 and +5
    assert scoring.contact_score_recompute(contact.pk, now=NOW).new_score == 35


def test_machine_opens_do_not_score():
    ScoreRuleFactory.behaviour(event=ScoreRule.Event.OPENED, points=10, half_life_days=30)
    contact = ContactFactory(lead_score=0)
    _events(contact, TrackingEvent.Kind.OPEN, 0, 0, machine=True)
    assert scoring.contact_score_recompute(contact.pk, now=NOW) is None
    assert _score(contact) == 0


def test_a_cap_bounds_what_a_rule_adds_and_profile_adds_on_top():
    ScoreRuleFactory.behaviour(
        event=ScoreRule.Event.OPENED, points=10, half_life_days=30, max_points=25
    )
    ScoreRuleFactory(field=ScoreRule.Field.INDUSTRY, values=["construccion"], points=30)
    contact = ContactFactory(lead_score=0, account=AccountFactory(industry="construccion"))
    _events(contact, TrackingEvent.Kind.OPEN, 0, 0, 0, 0)
    assert scoring.contact_score_recompute(contact.pk, now=NOW).new_score == 55


def _world(settings):
    """A few contacts with profiles and events of every age, and rules of both kinds."""
    settings.LEAD_MQL_THRESHOLD = 60
    ScoreRuleFactory(field=ScoreRule.Field.INDUSTRY, values=["construccion"], points=20)
    ScoreRuleFactory(field=ScoreRule.Field.JOB_TITLE, values=["director"], points=15)
    ScoreRuleFactory(field=ScoreRule.Field.REGION, values=["nuevo leon"], points=5)
    ScoreRuleFactory(field=ScoreRule.Field.LEAD_SOURCE, values=["llamada"], points=-10)
    ScoreRuleFactory.behaviour(event=ScoreRule.Event.OPENED, points=3, half_life_days=14)
    ScoreRuleFactory.behaviour(
        event=ScoreRule.Event.CLICKED, points=12, half_life_days=30, max_points=40
    )
    ScoreRuleFactory.behaviour(event=ScoreRule.Event.CLICKED, points=5, active=False)
    contacts = []
    for i in range(8):
        account = None if i == 3 else AccountFactory(industry=["construccion", "agro"][i % 2])
        contact = ContactFactory(
            account=account,
            job_title=["Director de obra", "Analista", "DIRECTORA"][i % 3],
            region=["Nuevo León", "Jalisco"][i % 2],
            lead_source=["web", "llamada"][i % 2],
            lifecycle=[Lifecycle.LEAD, Lifecycle.SUBSCRIBER, Lifecycle.SQL][i % 3],
            lead_score=[0, 10, 70][i % 3],
        )
        _events(contact, TrackingEvent.Kind.OPEN, *[d * (i + 1) for d in (1, 5, 9)][: i % 4])
        _events(contact, TrackingEvent.Kind.CLICK, *[d * (i + 2) for d in (0.5, 3, 20)][: i % 3])
        _events(contact, TrackingEvent.Kind.OPEN, 0, machine=True)
        contacts.append(contact)
    return contacts


def test_the_nightly_job_gives_what_each_contact_gets_alone(settings):
    contacts = _world(settings)
    rules = active_rules()
    expected = {}
    for contact in contacts:
        loaded = Contact.objects.select_related("account").get(pk=contact.pk)
        expected[contact.pk] = scoring.contact_score_compute(loaded, rules, now=NOW)
    assert len({score for score, _breakdown in expected.values()}) > 3  # a varied world
    changed = scoring.contacts_score_nightly(now=NOW)
    assert changed == sum(expected[c.pk][0] != c.lead_score for c in contacts)
    for contact in contacts:
        score, breakdown = expected[contact.pk]
        assert _score(contact) == score
        if score != contact.lead_score:
            assert ScoreChange.objects.get(contact=contact).breakdown == breakdown


def test_the_nightly_job_twice_has_one_effect(settings):
    contacts = _world(settings)
    first = scoring.contacts_score_nightly(now=NOW)
    assert first > 0
    changes = ScoreChange.objects.count()
    history = sum(c.history.count() for c in contacts)
    state = list(Contact.objects.order_by("pk").values_list("lead_score", "lifecycle"))
    assert scoring.contacts_score_nightly(now=NOW) == 0
    assert ScoreChange.objects.count() == changes
    assert sum(c.history.count() for c in contacts) == history
    assert list(Contact.objects.order_by("pk").values_list("lead_score", "lifecycle")) == state
    # And a per-event recompute at the same time agrees: nothing to write either.
    assert all(scoring.contact_score_recompute(c.pk, now=NOW) is None for c in contacts)


def test_the_nightly_job_moves_to_mql_with_history_and_never_back(settings):
    settings.LEAD_MQL_THRESHOLD = 30
    ScoreRuleFactory(field=ScoreRule.Field.INDUSTRY, values=["construccion"], points=40)
    account = AccountFactory(industry="construccion")
    lead = ContactFactory(account=account, lead_score=0, lifecycle=Lifecycle.LEAD)
    customer = ContactFactory(account=account, lead_score=0, lifecycle=Lifecycle.CUSTOMER)
    assert scoring.contacts_score_nightly(now=NOW) == 2
    lead.refresh_from_db()
    customer.refresh_from_db()
    assert (lead.lifecycle, lead.lead_score) == (Lifecycle.MQL, 40)
    assert lead.history.order_by("-history_id")[0].history_change_reason == (
        "Puntuación 40 ≥ umbral 30"
    )
    assert (customer.lifecycle, customer.lead_score) == (Lifecycle.CUSTOMER, 40)
    assert ScoreChange.objects.get(contact=lead).became_mql
    assert ScoreChange.objects.get(contact=lead).reason == ScoreChange.Reason.NIGHTLY


def test_the_nightly_job_in_small_chunks_and_batches(settings, monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK", 3)
    monkeypatch.setattr(scoring, "WRITE_BATCH", 2)
    contacts = _world(settings)
    rules = active_rules()
    expected = {
        c.pk: scoring.contact_score_compute(
            Contact.objects.select_related("account").get(pk=c.pk), rules, now=NOW
        )[0]
        for c in contacts
    }
    scoring.contacts_score_nightly(now=NOW)
    assert {c.pk: _score(c) for c in contacts} == expected


def test_a_confirmed_sign_up_scores_and_a_pending_one_does_not(django_capture_on_commit_callbacks):
    from campaigns.services import signup
    from campaigns.tests.factories import SignupFormFactory

    ScoreRuleFactory.behaviour(event=ScoreRule.Event.FORM, points=25, half_life_days=60)
    form = SignupFormFactory()
    source = signup.SubmissionSource(ip_address="201.1.1.1", user_agent=BROWSER)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = signup.signup_submit(
            form=form, values={"email": "ana@ejemplo.mx"}, source=source
        )
        pending = signup.signup_submit(
            form=form, values={"email": "luis@ejemplo.mx"}, source=source
        )
    QueuedTask.objects.all().delete()
    signup.signup_confirm(submission=confirmed, ip_address="201.1.1.1", user_agent=BROWSER)
    # The confirmation queues the contact's recompute (in the outbox until the commit).
    assert list(QueuedTask.objects.values_list("name", "args")) == [
        ("campaigns.contact_score_recompute", [confirmed.contact_id])
    ]
    assert scoring.contact_score_recompute(confirmed.contact_id, now=NOW).new_score == 25
    assert scoring.contact_score_recompute(pending.contact_id, now=NOW) is None
    scoring.contacts_score_nightly(now=NOW + timedelta(days=60))
    assert (_score(confirmed.contact), _score(pending.contact)) == (13, 0)  # 12.5 rounds half up


def test_the_task_is_queued_after_a_human_open_not_a_machine_one():
    send = SendFactory(contact=ContactFactory(), sent_at=NOW - timedelta(hours=1))
    tracking.record_open(send=send, ip_address="17.1.1.1", user_agent="Mozilla/5.0")
    assert not QueuedTask.objects.exists()
    tracking.record_open(send=send, ip_address="201.1.1.1", user_agent=BROWSER)
    task = QueuedTask.objects.get()
    assert (task.name, task.args) == ("campaigns.contact_score_recompute", [send.contact_id])


def test_the_task_is_queued_after_a_human_click():
    campaign = CampaignFactory()
    send = SendFactory(campaign=campaign, sent_at=NOW - timedelta(hours=1))
    link = CampaignLink.objects.filter(campaign=campaign).first()
    tracking.record_click(send=send, link_id=link.pk, ip_address=None, user_agent="curl/8.0")
    assert not QueuedTask.objects.exists()  # a scanner
    tracking.record_click(send=send, link_id=link.pk, ip_address=None, user_agent=BROWSER)
    assert list(QueuedTask.objects.values_list("name", "args")) == [
        ("campaigns.contact_score_recompute", [send.contact_id])
    ]


def test_a_click_scores_through_the_task(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    ScoreRuleFactory.behaviour(event=ScoreRule.Event.CLICKED, points=30, half_life_days=30)
    campaign = CampaignFactory()
    send = SendFactory(
        campaign=campaign, contact=ContactFactory(lead_score=0), sent_at=NOW - timedelta(hours=1)
    )
    link = CampaignLink.objects.filter(campaign=campaign).first()
    with django_capture_on_commit_callbacks(execute=True):
        tracking.record_click(send=send, link_id=link.pk, ip_address=None, user_agent=BROWSER)
    assert _score(send.contact) == 30
    assert ScoreChange.objects.get(contact=send.contact).reason == ScoreChange.Reason.EVENT


def test_the_nightly_task_twice_has_one_effect(settings):
    _world(settings)
    nightly_task("no-such-reason")  # an unknown reason is the nightly one
    changes = list(ScoreChange.objects.values_list("reason", flat=True))
    assert changes and set(changes) == {ScoreChange.Reason.NIGHTLY}
    assert nightly_task(ScoreChange.Reason.RULES) == 0
