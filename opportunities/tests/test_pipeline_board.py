"""The board: columns, totals in the company currency, moves by htmx, and its query count."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from crm.core.tests.factories import UserFactory
from opportunities.models import ExchangeRate, StageChange
from opportunities.selectors.pipeline import (
    BOARD_LIMIT,
    CARD_FIELDS,
    _filtered,
    _union_of_stages,
    board,
    opportunity_base,
    pipeline_get,
    stages_of,
)
from opportunities.tests.factories import OpportunityFactory, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rates():
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17.50"), valid_from=date(2020, 1, 1))
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("20.00"), valid_from=date(2020, 1, 1))


def _column(data, name):
    return next(c for c in data.columns if c.stage.name == name)


def test_totals_are_converted_to_the_company_currency(rep, rates):
    OpportunityFactory(owner=rep, amount=Decimal("1000"), currency="MXN")
    OpportunityFactory(owner=rep, amount=Decimal("100"), currency="USD")  # 1,750.00 MXN
    OpportunityFactory(owner=rep, amount=Decimal("10"), currency="EUR", stage=stage("Propuesta"))
    data = board(user=rep, pipeline=pipeline_get())
    prospecting = _column(data, "Prospección")
    assert (prospecting.count, prospecting.total) == (2, Decimal("2750.00"))
    assert prospecting.weighted == Decimal("275.00")  # 10 %
    proposal = _column(data, "Propuesta")
    assert (proposal.count, proposal.total, proposal.weighted) == (
        1,
        Decimal("200.00"),
        Decimal("100.00"),
    )
    usd_card = next(c for c in prospecting.cards if c.currency == "USD")
    assert usd_card.amount_company == Decimal("1750.00")


def test_a_currency_without_a_rate_is_shown_apart_never_converted(rep, rates):
    OpportunityFactory(owner=rep, amount=Decimal("1000"), currency="MXN")
    OpportunityFactory(owner=rep, amount=Decimal("50000"), currency="ARS")
    column = _column(board(user=rep, pipeline=pipeline_get()), "Prospección")
    assert column.total == Decimal("1000.00")
    assert column.unconverted == {"ARS": Decimal("50000.00")}
    ars_card = next(c for c in column.cards if c.currency == "ARS")
    assert ars_card.amount_company is None


def test_a_rate_applies_from_its_date(rep):
    today = timezone.localdate()
    ExchangeRate.objects.create(currency="USD", rate=Decimal("17"), valid_from=today)
    ExchangeRate.objects.create(
        currency="USD", rate=Decimal("99"), valid_from=today + timedelta(days=1)
    )
    OpportunityFactory(owner=rep, amount=Decimal("2"), currency="USD")
    assert _column(board(user=rep, pipeline=pipeline_get()), "Prospección").total == Decimal(
        "34.00"
    )


def test_the_board_shows_each_user_what_they_may_see(rep, manager, other_rep, admin_user):
    mine = OpportunityFactory(owner=rep)
    theirs = OpportunityFactory(owner=other_rep)
    seen = {
        user.username: {
            c.pk for col in board(user=user, pipeline=pipeline_get()).columns for c in col.cards
        }
        for user in (rep, manager, other_rep, admin_user)
    }
    assert seen["vendedor"] == {mine.pk}
    assert seen["gerente"] == {mine.pk}
    assert seen["otro_vendedor"] == {theirs.pk}
    assert seen["administrador"] == {mine.pk, theirs.pk}


def test_a_column_shows_at_most_the_limit_and_counts_all(rep):
    OpportunityFactory.create_batch(4, owner=rep)
    column = _column(board(user=rep, pipeline=pipeline_get(), limit=3), "Prospección")
    assert (column.count, len(column.cards), column.has_more) == (4, 3, True)


def test_board_filters_by_close_date_and_owner(rep, manager):
    today = timezone.localdate()
    soon = OpportunityFactory(owner=rep, expected_close_date=today + timedelta(days=5))
    OpportunityFactory(owner=rep, expected_close_date=today + timedelta(days=90))
    managers = OpportunityFactory(owner=manager, expected_close_date=today + timedelta(days=5))
    data = board(
        user=manager,
        pipeline=pipeline_get(),
        filters={"close_to": today + timedelta(days=10), "owner": rep},
    )
    assert [c.pk for c in _column(data, "Prospección").cards] == [soon.pk]
    assert managers.pk  # the manager's own deal is filtered out by owner


# The page ---------------------------------------------------------------------------------


def test_board_page(client_for, rep, rates):
    OpportunityFactory(owner=rep, name="Renovación Acme", amount=Decimal("100"), currency="USD")
    response = client_for(rep).get(reverse("opportunities:board"))
    assert response.status_code == 200
    assert "opportunities/pipeline/board.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "Renovación Acme" in html
    assert 'id="column-head-' in html
    assert "1\xa0750 MXN" in html  # converted; es formats group with a no-break space
    assert reverse("opportunities:opportunity-move", args=[1]).rsplit("/", 3)[0] in html


def test_board_htmx_answers_the_board_only(client_for, rep):
    response = client_for(rep).get(
        reverse("opportunities:board") + "?close_from=2020-01-01", **HTMX
    )
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b"board-columns" in response.content


def test_board_warns_about_a_missing_rate(client_for, rep):
    OpportunityFactory(owner=rep, amount=Decimal("50000"), currency="ARS")
    html = client_for(rep).get(reverse("opportunities:board")).content.decode()
    assert "sin tipo de cambio" in html
    assert "50\xa0000 ARS" in html


def test_board_links_a_long_column_to_the_filtered_list(client_for, rep, monkeypatch):
    OpportunityFactory.create_batch(3, owner=rep)
    monkeypatch.setattr("opportunities.selectors.pipeline.BOARD_LIMIT", 2)
    html = client_for(rep).get(reverse("opportunities:board")).content.decode()
    assert f"stage={stage('Prospección').pk}" in html
    assert "Ver las 3 en la lista" in html


@pytest.mark.parametrize("role", ["support", "marketing"])
def test_board_is_refused_to_support_and_marketing(request, client_for, role):
    response = client_for(request.getfixturevalue(role)).get(reverse("opportunities:board"))
    assert response.status_code == 403


def test_board_query_count_does_not_grow_with_cards(client_for, rep, django_assert_max_num_queries):
    client = client_for(rep)
    OpportunityFactory.create_batch(3, owner=rep)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("opportunities:board"))
    for name in ("Prospección", "Calificación", "Propuesta", "Negociación"):
        OpportunityFactory.create_batch(15, owner=rep, stage=stage(name))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("opportunities:board"))
    assert response.content.count(b'class="card board-card') == 63


# Moves ------------------------------------------------------------------------------------


def _move(client, opportunity, stage_name, **extra):
    return client.post(
        reverse("opportunities:opportunity-move", args=[opportunity.pk]),
        {"stage": stage(stage_name).pk, **extra},
        **HTMX,
    )


def test_a_move_by_htmx_answers_the_card_and_the_new_totals(client_for, rep):
    deal = OpportunityFactory(owner=rep, amount=Decimal("1000"))
    OpportunityFactory(owner=rep, amount=Decimal("500"))
    response = _move(client_for(rep), deal, "Calificación")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="card-{deal.pk}"' in html
    assert f'data-stage-id="{stage("Calificación").pk}"' in html
    head = re.search(
        rf'id="column-head-{stage("Calificación").pk}"\s+hx-swap-oob="true">(.*?)</header>',
        html,
        re.S,
    ).group(1)
    assert ">1</span>" in head and "1\xa0000 MXN" in head
    first = re.search(
        rf'id="column-head-{stage("Prospección").pk}"\s+hx-swap-oob="true">(.*?)</header>',
        html,
        re.S,
    ).group(1)
    assert ">1</span>" in first and "500 MXN" in first
    assert "pasa a Calificación" in html
    deal.refresh_from_db()
    assert deal.stage == stage("Calificación")
    assert StageChange.objects.get(opportunity=deal).by == rep


def _card(html: str, deal) -> str:
    return re.search(rf'<article [^>]*id="card-{deal.pk}".*?</article>', html, re.S).group(0)


def test_a_card_shows_its_deal_account_and_owner_escaped(client_for, manager, rep):
    rep.first_name, rep.last_name = "Lucía", "Ortega <b>"
    rep.save()
    deal = OpportunityFactory(
        owner=rep, name="Renovación <Acme>", account__name="Ferretería «El Clavo» & Hijos"
    )
    card = _card(client_for(manager).get(reverse("opportunities:board")).content.decode(), deal)
    assert ">Renovación &lt;Acme&gt;</a>" in card
    assert ">Ferretería «El Clavo» &amp; Hijos</div>" in card
    assert "</i> Lucía Ortega &lt;b&gt;</div>" in card  # a manager sees whose deal it is
    rep_card = _card(client_for(rep).get(reverse("opportunities:board")).content.decode(), deal)
    assert "Lucía Ortega" not in rep_card


def test_the_card_a_move_answers_is_the_card_the_board_then_shows(client_for, manager, rep, rates):
    deal = OpportunityFactory(owner=rep, amount=Decimal("100"), currency="USD")
    client = client_for(manager)
    moved = _card(_move(client, deal, "Calificación").content.decode(), deal)
    assert moved == _card(client.get(reverse("opportunities:board")).content.decode(), deal)
    assert "1\xa0750 MXN" in moved and "100 USD" in moved


def test_lost_without_reason_is_refused_and_the_card_keeps_its_stage(client_for, rep):
    deal = OpportunityFactory(owner=rep)
    response = _move(client_for(rep), deal, "Perdida")
    assert response.status_code == 422
    html = response.content.decode()
    assert "Indica el motivo por el que se perdió la oportunidad." in html
    assert f'data-stage-id="{stage("Prospección").pk}"' in html
    deal.refresh_from_db()
    assert deal.stage == stage("Prospección")


def test_lost_with_reason_by_htmx(client_for, rep):
    deal = OpportunityFactory(owner=rep)
    response = _move(client_for(rep), deal, "Perdida", lost_reason="Precio")
    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.stage, deal.lost_reason) == (stage("Perdida"), "Precio")


def test_the_totals_after_a_move_keep_the_boards_filters(client_for, manager, rep):
    deal = OpportunityFactory(owner=rep, amount=Decimal("1000"))
    OpportunityFactory(owner=manager, amount=Decimal("7000"), stage=stage("Calificación"))
    response = _move(client_for(manager), deal, "Calificación", owner=rep.pk)
    html = response.content.decode()
    head = re.search(
        rf'id="column-head-{stage("Calificación").pk}"\s+hx-swap-oob="true">(.*?)</header>',
        html,
        re.S,
    ).group(1)
    assert "1\xa0000 MXN" in head and "8\xa0000" not in head


def test_a_move_without_javascript_redirects_with_a_message(client_for, rep):
    deal = OpportunityFactory(owner=rep)
    client = client_for(rep)
    response = client.post(
        reverse("opportunities:opportunity-move", args=[deal.pk]),
        {"stage": stage("Propuesta").pk, "next": reverse("opportunities:board")},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("opportunities:board")
    assert "pasa a Propuesta" in response.content.decode()
    response = client.post(
        reverse("opportunities:opportunity-move", args=[deal.pk]),
        {"stage": stage("Perdida").pk, "next": "https://evil.example.com/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == deal.get_absolute_url()
    assert "Indica el motivo" in response.content.decode()


def test_another_reps_deal_cannot_be_moved(client_for, rep, other_rep, support):
    deal = OpportunityFactory(owner=rep)
    assert _move(client_for(other_rep), deal, "Propuesta").status_code == 404
    assert _move(client_for(support), deal, "Propuesta").status_code == 404
    deal.refresh_from_db()
    assert deal.stage == stage("Prospección")


def test_a_manager_moves_the_teams_deals(client_for, rep, manager):
    deal = OpportunityFactory(owner=rep)
    assert _move(client_for(manager), deal, "Propuesta").status_code == 200


def test_a_new_user_without_deals_sees_empty_columns(client_for):
    user = UserFactory()
    response = client_for(user).get(reverse("opportunities:board"))
    assert response.status_code == 200
    assert response.content.count(b"board-column-head") == 6


def test_many_cards_per_column_stop_at_the_limit_in_order_with_constant_queries(
    client_for, rep, django_assert_max_num_queries
):
    """Each column shows its first BOARD_LIMIT deals (closed ones newest first, open ones by
    close date), counts them all, and the page costs the same queries with 1 or 60 a column."""
    today = timezone.localdate()
    now = timezone.now()
    client = client_for(rep)
    OpportunityFactory(owner=rep)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("opportunities:board"))
    open_deals = [
        OpportunityFactory(owner=rep, expected_close_date=today + timedelta(days=n % 7))
        for n in range(60)
    ]
    won = [
        OpportunityFactory(owner=rep, stage=stage("Ganada"), closed_at=now - timedelta(hours=n))
        for n in range(55)
    ]
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("opportunities:board"))
    assert response.content.count(b'class="card board-card') == 2 * BOARD_LIMIT
    data = board(user=rep, pipeline=pipeline_get())
    prospecting = _column(data, "Prospección")
    expected = sorted(
        [
            *open_deals,
            *OpportunityFactory._meta.model.objects.filter(owner=rep, pk__lt=open_deals[0].pk),
        ],
        key=lambda o: (o.expected_close_date, o.pk),
    )[:BOARD_LIMIT]
    assert (prospecting.count, prospecting.has_more) == (61, True)
    assert [c.pk for c in prospecting.cards] == [o.pk for o in expected]
    assert [c.pk for c in _column(data, "Ganada").cards] == [o.pk for o in won[:BOARD_LIMIT]]


# The cards' UNION ALL, one part compiled and repeated (selectors.pipeline._union_of_stages) --


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's UNION ALL and prepared statements"
)


def _django_union(qs, stages, limit):
    order = (F("closed_at").desc(nulls_first=True), F("expected_close_date").asc(), F("id").asc())
    parts = [qs.filter(stage=s).order_by(*order).values_list(*CARD_FIELDS)[:limit] for s in stages]
    return sorted(parts[0].union(*parts[1:], all=True))


@postgres_only
def test_the_repeated_part_reads_what_djangos_own_union_reads(rep, manager, other_rep, admin_user):
    today = timezone.localdate()
    for n in range(6):
        OpportunityFactory(owner=rep, expected_close_date=today + timedelta(days=n))
        OpportunityFactory(owner=other_rep, stage=stage("Propuesta"))
    OpportunityFactory(owner=rep, stage=stage("Ganada"), closed_at=timezone.now())
    pipeline = pipeline_get()
    stages = stages_of(pipeline)
    order = (F("closed_at").desc(nulls_first=True), F("expected_close_date").asc(), F("id").asc())
    for user, filters in (
        (rep, {}),
        (manager, {"owner": rep}),
        (admin_user, {}),
        (admin_user, {"close_to": today + timedelta(days=2)}),
    ):
        qs = _filtered(opportunity_base(user=user), {**filters, "pipeline": pipeline}, user)
        for prepare in (False, True):
            rows = sorted(_union_of_stages(qs, stages, order, 4, prepare=prepare))
            assert rows == _django_union(qs, stages, 4) and rows


def _cards_runs() -> int:
    """How many times this connection ran a prepared statement of the board's cards (the
    connection outlives the test: its statements may have been prepared by an earlier one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements"
            ' WHERE statement LIKE \'(SELECT "opportunities_opportunity"."id"%%\''
        )
        return cursor.fetchone()[0]


@postgres_only
def test_only_the_unfiltered_board_reads_its_cards_with_a_prepared_statement(rep, manager):
    """Without filters the plan is the same for anyone (the board's indexes decide it); a
    filter (a text, dates) can change the best plan, so that board is planned each time."""
    OpportunityFactory(owner=rep)
    OpportunityFactory(owner=rep, stage=stage("Propuesta"))
    today = timezone.localdate()
    before = _cards_runs()

    board(user=manager, pipeline=pipeline_get(), filters={"close_to": today + timedelta(days=400)})
    board(user=manager, pipeline=pipeline_get(), filters={"owner": rep})
    assert _cards_runs() == before

    board(user=rep, pipeline=pipeline_get())
    board(user=rep, pipeline=pipeline_get())
    assert _cards_runs() == before + 2
