"""The demo data must look like a real customer base: valid tax ids and phones, unique e-mails,
search text filled in, a user for every role to log in with, and sales data that keeps the
rules of the sales models (stages, closing, activities, last contact, quotas)."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import phonenumbers
import pytest
from django.core.management import call_command
from django.db.models import Count, Max, Q
from django.db.models.functions import Lower
from django.utils import timezone
from taggit.models import TaggedItem

from accounts.models import Account
from accounts.validators import normalize_tax_id
from contacts.models import Consent, Contact
from crm.core.models import Role, Team, User
from crm.core.text import digits, fold, search_text
from crm.top.management.commands.seed_demo import DEMO_PASSWORD
from opportunities.models import (
    Activity,
    ActivityKind,
    Currency,
    ExchangeRate,
    ForecastCategory,
    LineItem,
    Opportunity,
    Product,
    Quota,
    Stage,
    StageChange,
)
from opportunities.money import line_totals


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def _is_e164(number: str) -> bool:
    parsed = phonenumbers.parse(number, None)
    return phonenumbers.is_valid_number(parsed) and number == phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.E164
    )


@pytest.fixture
def seeded(db) -> str:
    return _seed(contacts=200)


@pytest.mark.django_db
def test_every_role_has_a_demo_user_with_the_printed_password(seeded):
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.role == Role.ADMINISTRADOR
    for user in User.objects.all():
        assert user.check_password(DEMO_PASSWORD), user.username
    for team in Team.objects.all():
        assert team.manager.role == Role.GERENTE
        assert team.members.filter(role=Role.VENDEDOR).exists()
    assert "vendedor1" in seeded and DEMO_PASSWORD in seeded


@pytest.mark.django_db
def test_accounts_are_realistic(seeded):
    accounts = list(Account.objects.all())
    assert len(accounts) == 40  # 20 % of the contacts
    assert {a.country for a in accounts} <= {"MX", "ES"}
    assert sum(1 for a in accounts if a.tax_id) > len(accounts) * 0.8
    for account in accounts:
        assert normalize_tax_id(account.tax_id, account.country) == account.tax_id
        if account.phone:
            assert _is_e164(account.phone)
            assert account.phone.startswith("+52" if account.country == "MX" else "+34")
            assert account.phone_digits == digits(account.phone)
        assert fold(account.name) in account.search_text
        assert account.city and account.region
        assert account.owner.role in (Role.VENDEDOR, Role.GERENTE)
    assert len({a.tier for a in accounts}) > 1


@pytest.mark.django_db
def test_contacts_are_realistic(seeded):
    contacts = list(Contact.objects.all())
    assert len(contacts) == 200
    emails = [c.email for c in contacts if c.email]
    assert len(emails) > 180
    assert all(email == email.lower() for email in emails)
    assert len(set(emails)) == len(emails)
    assert (
        not Contact.objects.exclude(email="")
        .values(e=Lower("email"))
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for contact in contacts:
        assert contact.search_text
        assert fold(contact.first_name) in contact.search_text
        for number in (contact.phone, contact.mobile):
            if number:
                assert _is_e164(number)
        assert contact.mobile_digits == digits(contact.mobile)
        assert 0 <= contact.lead_score <= 100
    assert any(c.account_id is None for c in contacts)
    assert Account.objects.filter(contacts__isnull=True).count() == 0
    assert len({c.lifecycle for c in contacts}) >= 4


@pytest.mark.django_db
def test_tags_and_consent_ledger(seeded):
    assert TaggedItem.objects.filter(content_type__model="account").exists()
    assert TaggedItem.objects.filter(content_type__model="contact").exists()
    assert Account.objects.filter(tags__isnull=False).exists()
    assert Contact.objects.filter(tags__isnull=False).exists()
    assert Consent.objects.filter(action=Consent.Action.GRANT).count() > 50
    for withdrawal in Consent.objects.filter(action=Consent.Action.WITHDRAW):
        grant = Consent.objects.get(
            contact=withdrawal.contact, channel=withdrawal.channel, action=Consent.Action.GRANT
        )
        assert grant.at <= withdrawal.at


SEEDED_MODELS = (
    Account,
    Contact,
    User,
    Opportunity,
    StageChange,
    LineItem,
    Activity,
    Quota,
    Product,
    ExchangeRate,
)


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in SEEDED_MODELS)


@pytest.mark.django_db
def test_if_empty_adds_nothing_the_second_time(seeded):
    counts = _counts()
    out = _seed(contacts=200, if_empty=True)
    assert _counts() == counts
    assert "no se cargan" in out


@pytest.mark.django_db
def test_running_again_without_if_empty_keeps_emails_and_tax_ids_unique(seeded):
    _seed(contacts=50, seed=42)  # the same seed would repeat names, e-mails and tax ids
    assert Contact.objects.count() == 250
    emails = list(Contact.objects.exclude(email="").values_list("email", flat=True))
    assert len(set(emails)) == len(emails)
    tax_ids = list(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))
    assert len(set(tax_ids)) == len(tax_ids)
    assert User.objects.filter(username__startswith="vendedor").count() == 3


# -- sales data ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sales_data_by_default_ratios(seeded):
    assert Opportunity.objects.count() == 100  # half the contacts
    assert Activity.objects.count() == 600  # three per contact
    assert "oportunidades" in seeded and "actividades" in seeded
    assert "clasificación" in seeded  # recomputed, or said why not


@pytest.mark.django_db
def test_opportunities_in_every_stage_and_closed_consistently(seeded):
    today = timezone.localdate()
    stages = list(Stage.objects.filter(pipeline__is_default=True))
    assert len(stages) == 6
    by_stage = dict(
        Opportunity.objects.values_list("stage").annotate(n=Count("id")).values_list("stage", "n")
    )
    assert all(by_stage.get(stage.pk, 0) > 0 for stage in stages), by_stage
    opps = Opportunity.objects.select_related("stage", "account", "contact")
    for opp in opps:
        assert opp.owner_id == opp.account.owner_id
        assert opp.contact is None or opp.contact.account_id == opp.account_id
        assert opp.amount > 0
        assert opp.currency in (Currency.MXN, Currency.EUR, Currency.USD)
        if opp.currency == Currency.EUR:
            assert opp.account.country == "ES"
        assert today - timedelta(days=366) <= opp.expected_close_date <= today + timedelta(183)
        assert opp.created_at <= timezone.now()
        if opp.stage.is_won or opp.stage.is_lost:
            assert opp.closed_at is not None and opp.closed_at <= timezone.now()
            assert opp.forecast_category == ForecastCategory.CLOSED
            assert opp.expected_close_date == timezone.localdate(opp.closed_at)
            assert opp.created_at <= opp.closed_at
            assert bool(opp.won_reason) == opp.stage.is_won
            assert bool(opp.lost_reason) == opp.stage.is_lost
        else:
            assert opp.closed_at is None
            assert opp.forecast_category != ForecastCategory.CLOSED
            assert not opp.won_reason and not opp.lost_reason
    assert opps.filter(currency=Currency.MXN).count() > opps.count() * 0.7


@pytest.mark.django_db
def test_line_items_make_the_amount_and_stage_history_leads_to_the_stage(seeded):
    with_lines = Opportunity.objects.filter(line_items__isnull=False).distinct()
    assert with_lines.exists()
    for opp in with_lines.prefetch_related("line_items", "account"):
        total = Decimal("0")
        for line in opp.line_items.all():
            net, _tax = line_totals(
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount_pct=line.discount_pct,
                tax_rate=line.tax_rate,
            )
            total += net
            assert line.tax_rate == (Decimal("21") if opp.account.country == "ES" else 16)
        assert opp.amount == total
    first = Stage.objects.get(pipeline__is_default=True, order=1)
    with_history = Opportunity.objects.filter(stage_changes__isnull=False).distinct()
    assert with_history.count() > Opportunity.objects.count() * 0.3
    for opp in with_history:
        changes = list(opp.stage_changes.order_by("at", "id"))
        assert changes[0].from_stage_id is None and changes[0].to_stage_id == first.pk
        assert changes[-1].to_stage_id == opp.stage_id
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert before.at <= after.at
        assert all(change.by_id == opp.owner_id for change in changes)


@pytest.mark.django_db
def test_activities_keep_the_constraints(seeded):
    now = timezone.now()
    activities = list(Activity.objects.select_related("account", "contact"))
    assert {a.kind for a in activities} == set(ActivityKind.values)
    assert {a.status for a in activities} == set(Activity.Status.values)
    for activity in activities:
        assert activity.account_id or activity.contact_id
        if activity.status == Activity.Status.PLANNED:
            assert activity.planned_at is not None and activity.done_at is None
            assert activity.planned_at <= now + timedelta(days=29)
        if activity.status == Activity.Status.DONE:
            assert activity.done_at is not None and activity.outcome
            assert now - timedelta(days=366) <= activity.done_at <= now
        if activity.account_id:
            assert activity.owner_id == activity.account.owner_id
            if activity.contact_id:
                assert activity.contact.account_id == activity.account_id
        else:
            assert activity.owner_id == activity.contact.owner_id
        if activity.opportunity_id:
            assert activity.opportunity.account_id == activity.account_id
    done = sum(a.status == Activity.Status.DONE for a in activities)
    assert done > len(activities) * 0.7
    ahead = [a for a in activities if a.status == "planificada" and a.planned_at > now]
    assert ahead  # the agenda of the next four weeks is not empty


@pytest.mark.django_db
def test_last_contacted_at_is_the_latest_done_activity(seeded):
    for model, field in ((Account, "activities"), (Contact, "activities")):
        rows = model.objects.annotate(
            latest=Max(f"{field}__done_at", filter=Q(**{f"{field}__status": "hecha"}))
        ).values_list("last_contacted_at", "latest")
        assert all(last == latest for last, latest in rows)
        assert any(last is not None for last, _latest in rows)


@pytest.mark.django_db
def test_quotas_products_and_rates(seeded):
    year = timezone.localdate().year
    quotas = list(Quota.objects.all())
    assert quotas
    assert all(q.month.day == 1 and q.month.year == year and q.amount > 0 for q in quotas)
    per_owner = Quota.objects.values("owner").annotate(n=Count("id"))
    assert {row["n"] for row in per_owner} == {12}
    assert set(User.objects.filter(quotas__isnull=False).values_list("role", flat=True)) <= {
        Role.VENDEDOR,
        Role.GERENTE,
    }
    assert User.objects.filter(role=Role.VENDEDOR, quotas__isnull=True).count() == 0
    assert Product.objects.count() >= 35
    assert set(Product.objects.values_list("tax_rate", flat=True)) == {Decimal("16.00")}
    assert set(ExchangeRate.objects.values_list("currency", flat=True)) == (
        set(Currency.values) - {"MXN"}
    )


@pytest.mark.django_db
def test_options_set_the_sales_volume(db):
    _seed(contacts=60, opportunities=7, activities=11)
    assert (Opportunity.objects.count(), Activity.objects.count()) == (7, 11)


@pytest.mark.django_db
def test_only_sales_adds_sales_data_to_existing_customers(db):
    _seed(contacts=120, opportunities=0, activities=0)
    customers = (Account.objects.count(), Contact.objects.count(), TaggedItem.objects.count())
    assert Opportunity.objects.count() == 0 and Quota.objects.exists()
    out = _seed(only_sales=True)
    assert (Account.objects.count(), Contact.objects.count(), TaggedItem.objects.count()) == (
        customers
    )
    assert Opportunity.objects.count() == 60 and Activity.objects.count() == 360
    assert "datos de ventas" in out
    assert Contact.objects.filter(last_contacted_at__isnull=False).exists()
    counts = _counts()
    out = _seed(only_sales=True, if_empty=True)
    assert _counts() == counts and "no se cargan" in out


# -- support data ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_tickets_by_default_ratio_and_numbered_in_order(seeded):
    from support.models import Ticket, TicketCounter

    assert Ticket.objects.count() == 40  # one per five contacts
    assert "incidencias" in seeded and "encuestas" in seeded
    tickets = list(Ticket.objects.order_by("created_at", "pk"))
    by_year: dict[int, list[int]] = {}
    for ticket in tickets:
        prefix, year, sequence = ticket.number.split("-")
        assert prefix == "INC" and len(sequence) == 6
        by_year.setdefault(int(year), []).append(int(sequence))
        assert ticket.search_text == search_text(ticket.number, ticket.subject)
    for year, numbers in by_year.items():
        assert numbers == list(range(1, len(numbers) + 1))  # in order of creation, no gap
        assert TicketCounter.objects.get(year=year).last == len(numbers)


@pytest.mark.django_db
def test_tickets_keep_the_rules_of_the_status_machine(db):
    from support.models import OPEN_STATUSES, Comment, Ticket
    from support.services.tickets import ALLOWED

    _seed(contacts=60, opportunities=0, activities=0, tickets=300)
    now = timezone.now()
    tickets = list(
        Ticket.objects.select_related("account", "contact", "assignee").prefetch_related(
            "status_changes", "comments"
        )
    )
    assert len(tickets) == 300
    statuses = {t.status for t in tickets}
    assert statuses >= {"nuevo", "abierto", "resuelto", "cerrado"}  # and "en_espera", often
    assert len({t.category for t in tickets}) == 5 and len({t.priority for t in tickets}) == 4
    assert now - timedelta(days=184) <= min(t.created_at for t in tickets)
    for ticket in tickets:
        assert ticket.created_at <= now
        assert ticket.contact is None or ticket.contact.account_id == ticket.account_id
        assert ticket.assignee is None or ticket.assignee.role == Role.SOPORTE
        changes = list(ticket.status_changes.all())
        assert changes[0].from_status == "" and changes[0].to_status == "nuevo"
        assert changes[-1].to_status == ticket.status
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_status == before.to_status
            assert after.to_status in ALLOWED[before.to_status]
            assert before.at <= after.at <= now
        if ticket.status == "nuevo":
            assert ticket.first_response_at is None
        else:
            assert ticket.created_at <= ticket.first_response_at <= now
        if ticket.status in ("resuelto", "cerrado"):
            assert ticket.resolution and ticket.resolved_at <= now
            assert ticket.first_response_at <= ticket.resolved_at
        else:
            assert ticket.resolved_at is None and not ticket.resolution
        assert (ticket.closed_at is not None) == (ticket.status == "cerrado")
        if ticket.status == "en_espera":
            assert ticket.paused_at is not None
            assert ticket.first_response_due is None and ticket.resolution_due is None
            assert ticket.resolution_left is not None
        else:
            assert ticket.paused_at is None
        if ticket.status in OPEN_STATUSES and ticket.status != "en_espera":
            assert ticket.resolution_due is not None
            assert (ticket.first_response_due is None) == (ticket.first_response_at is not None)
            for due, breached in (
                (ticket.first_response_due, ticket.first_response_breached),
                (ticket.resolution_due, ticket.resolution_breached),
            ):
                if due is not None:
                    assert breached == (due < now)  # as the SLA check flags them
        for comment in ticket.comments.all():
            assert ticket.created_at <= comment.created_at <= now
            assert (comment.emailed_at is not None) == (comment.kind == Comment.Kind.REPLY)
            assert (comment.author_id is None) == (comment.kind == Comment.Kind.CUSTOMER)
    assert any(t.first_response_breached for t in tickets)
    assert any(t.assignee is None for t in tickets if t.status == "nuevo")


@pytest.mark.django_db
def test_tickets_due_times_come_from_the_sla_engine(db):
    from support.models import Ticket
    from support.services.sla import sla_setup_load, sla_start

    _seed(contacts=60, opportunities=0, activities=0, tickets=200)
    setup = sla_setup_load()
    fresh = Ticket.objects.filter(status="nuevo")
    assert fresh.exists()
    for ticket in fresh:
        expected = Ticket(priority=ticket.priority)
        sla_start(expected, now=ticket.created_at, setup=setup)
        assert ticket.first_response_due == expected.first_response_due
        assert ticket.resolution_due == expected.resolution_due
        assert ticket.resolution_warn_at == expected.resolution_warn_at


@pytest.mark.django_db
def test_the_sla_check_has_no_seeded_backlog_to_mail(db, mailoutbox):
    from support.services.sla import sla_check

    _seed(contacts=60, opportunities=0, activities=0, tickets=200)
    summary = sla_check(now=timezone.now())
    assert summary["warnings"] == summary["breaches"] == summary["flagged"] == 0
    assert mailoutbox == []


@pytest.mark.django_db
def test_surveys_and_satisfaction_as_the_survey_service_derives_it(db):
    from support.models import ContactSatisfaction, Survey, SurveyRound
    from support.selectors.surveys import contact_answers
    from support.services.surveys import satisfaction_level

    _seed(contacts=150, opportunities=0, activities=0, tickets=200)
    csat = Survey.objects.filter(kind=Survey.Kind.CSAT).select_related("ticket", "contact")
    assert csat.filter(answered_at__isnull=False).exists()
    for survey in csat:
        assert survey.ticket.resolved_at is not None and survey.contact.email
        assert survey.contact_id == survey.ticket.contact_id
        assert survey.sent_at is not None
        assert survey.score is None or 1 <= survey.score <= 5
        assert (survey.score is None) == (survey.answered_at is None)
    rounds = list(SurveyRound.objects.all())
    assert len(rounds) == 2
    for survey_round in rounds:
        sent = survey_round.surveys.all()
        assert sent.count() == survey_round.recipients > 0
        assert all(s.kind == Survey.Kind.NPS and s.sent_at for s in sent)
        assert all(s.score is None or 0 <= s.score <= 10 for s in sent)
    levels = dict(ContactSatisfaction.objects.values_list("contact_id", "level"))
    answered = set(
        Survey.objects.filter(answered_at__isnull=False).values_list("contact_id", flat=True)
    )
    assert levels and set(levels) == answered
    for contact_id, level in levels.items():
        assert level == satisfaction_level(contact_answers(contact_id=contact_id))


@pytest.mark.django_db
def test_only_support_adds_tickets_to_existing_customers(db):
    from support.models import Survey, Ticket

    _seed(contacts=100, opportunities=0, activities=0, tickets=0)
    assert not Ticket.objects.exists() and not Survey.objects.exists()
    customers = (Account.objects.count(), Contact.objects.count())
    out = _seed(only_support=True, tickets=30)
    assert (Account.objects.count(), Contact.objects.count()) == customers
    assert Ticket.objects.count() == 30 and "datos de soporte" in out
    assert "oportunidades" not in out.split("Listo")[-1]
    out = _seed(only_support=True, if_empty=True)
    assert Ticket.objects.count() == 30 and "no se cargan" in out
    _seed(only_support=True)  # the default: one per five contacts, numbered after the others
    assert Ticket.objects.count() == 50
    assert Ticket.objects.values("number").distinct().count() == 50
