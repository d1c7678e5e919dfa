"""The forecast pages per role, the drill-down, adjustments, quotas, PDF and CSV."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import formats, translation

from crm.core.models import AuditEvent
from crm.core.tests.pdf import pdf_text
from opportunities.models import ForecastAdjustment, Quota
from opportunities.tests.factories import OpportunityFactory, stage
from opportunities.tests.test_forecast_selectors import at, build_data_set, open_deal, won
from opportunities.views.forecast import csv_cell

pytestmark = pytest.mark.django_db

FORECAST = reverse("opportunities:forecast")
DEALS = reverse("opportunities:forecast-deals")
PDF = reverse("opportunities:forecast-pdf")
CSV = reverse("opportunities:forecast-csv")
ADJUST = reverse("opportunities:forecast-adjust")
QUOTAS = reverse("opportunities:quotas")
ANALYTICS = reverse("opportunities:analytics")
TIERS = reverse("opportunities:tiers")


@pytest.fixture
def data_set(rep, manager, other_rep):
    return build_data_set(rep, manager, other_rep)


def money(value: str, decimals: int = 2) -> str:
    with translation.override("es"):
        return formats.number_format(Decimal(value), decimals, use_l10n=True, force_grouping=True)


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


# --- Who may see what --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [FORECAST, f"{DEALS}?figure=won", PDF, CSV, QUOTAS, ANALYTICS, TIERS],
)
def test_support_and_marketing_are_refused_everywhere(client_for, support, marketing, url):
    for user in (support, marketing):
        assert client_for(user).get(url).status_code == 403


@pytest.mark.parametrize("url", [QUOTAS, ANALYTICS, TIERS])
def test_manager_pages_refuse_a_rep(client_for, rep, url):
    assert client_for(rep).get(url).status_code == 403


def test_rep_forecast_shows_only_their_own(client_for, data_set, rep, other_rep, manager):
    response = client_for(rep).get(FORECAST, {"period": "2025-Q2"})
    assert response.status_code == 200
    html = plain(response.content.decode())
    assert f'id="forecast-row-{rep.pk}"' in html
    assert f'id="forecast-row-{manager.pk}"' not in html
    assert str(other_rep) not in html
    assert plain(money("205000", 0)) in html
    assert "forecast-adjust" not in html  # no adjusting for a rep
    assert "COP" in html  # the warning about the missing rate


def test_rep_cannot_drill_into_another_rep(client_for, data_set, rep, other_rep):
    client = client_for(rep)
    response = client.get(DEALS, {"period": "2025-Q2", "figure": "won", "owner": other_rep.pk})
    assert response.status_code == 404
    response = client.get(DEALS, {"period": "2025-Q2", "figure": "won"})
    assert data_set["other_won"].name not in response.content.decode()
    assert data_set["won_mxn"].name in response.content.decode()


def test_drill_down_lists_the_deals_and_their_total(client_for, data_set, manager, rep):
    response = client_for(manager).get(
        DEALS, {"period": "2025-Q2", "figure": "won", "owner": rep.pk}
    )
    assert response.status_code == 200
    html = plain(response.content.decode())
    assert data_set["won_mxn"].name in html
    assert data_set["won_usd"].name in html
    assert data_set["won_next"].name not in html
    assert plain(money("205000")) in html  # the converted total
    assert response.context["totals"]["count"] == 2


def test_a_bad_drill_down_is_404(client_for, rep):
    assert client_for(rep).get(DEALS, {"figure": "nada"}).status_code == 404


def test_manager_forecast_page_has_team_rows_chart_and_total(client_for, data_set, manager, rep):
    response = client_for(manager).get(FORECAST, {"period": "2025-Q2"})
    html = plain(response.content.decode())
    assert f'id="forecast-row-{rep.pk}"' in html
    assert 'id="forecast-row-total"' in html
    assert 'data-chart="forecast"' in html
    assert plain(money("215000", 0)) in html
    chart = response.context["chart"]
    assert chart["datasets"][1]["data"] == [10000.0, 205000.0] or sorted(
        chart["datasets"][1]["data"]
    ) == [10000.0, 205000.0]


def test_htmx_gets_only_the_body(client_for, manager):
    response = client_for(manager).get(FORECAST, {"period": "2025-Q2"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="forecast-body">')
    assert "<nav" not in html.split('id="forecast-body"')[0]


def test_a_malformed_period_falls_back_to_the_current_quarter(client_for, rep):
    response = client_for(rep).get(FORECAST, {"period": "2025-Q9"})
    assert response.status_code == 200
    assert response.context["period"].kind == "quarter"


def test_forecast_page_queries_do_not_grow_with_rows(
    client_for, manager, rep, django_assert_max_num_queries
):
    for i in range(80):
        won(rep, "1000", "MXN", at(2025, 5, 1 + i % 28))
        open_deal(manager, "2000", "MXN", "Negociación", "best_case", date(2025, 6, 1 + i % 28))
    client = client_for(manager)
    client.get(FORECAST, {"period": "2025-Q2"})  # warm up the session and caches
    with django_assert_max_num_queries(12):
        response = client.get(FORECAST, {"period": "2025-Q2"})
    assert response.status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(DEALS, {"period": "2025-Q2", "figure": "won"}).status_code == 200


# --- Adjustments --------------------------------------------------------------------------


def test_manager_adjusts_with_a_note_and_sees_it_with_the_history(client_for, manager, rep):
    client = client_for(manager)
    for amount, note in (("300000", "Primera estimación"), ("280000", "Se cae un pedido")):
        response = client.post(
            ADJUST, {"owner": rep.pk, "amount": amount, "note": note, "period": "2025-Q2"}
        )
        assert response.status_code == 302
        assert response["Location"] == f"{FORECAST}?period=2025-Q2"
    assert ForecastAdjustment.objects.count() == 2
    html = plain(client.get(FORECAST, {"period": "2025-Q2"}).content.decode())
    assert "Primera estimación" in html and "Se cae un pedido" in html
    assert plain(money("280000", 0)) in html


def test_an_adjustment_without_note_is_refused_and_nothing_saved(client_for, manager, rep):
    response = client_for(manager).post(
        ADJUST, {"owner": rep.pk, "amount": "1", "note": "  ", "period": "2025-Q2"}
    )
    assert response.status_code == 422
    assert not ForecastAdjustment.objects.exists()


def test_adjusting_someone_outside_the_team_is_refused(client_for, manager, rep, other_rep):
    response = client_for(manager).post(
        ADJUST, {"owner": other_rep.pk, "amount": "1", "note": "x", "period": "2025-Q2"}
    )
    assert response.status_code == 422  # not a choice of the form
    assert (
        client_for(rep)
        .post(ADJUST, {"owner": rep.pk, "amount": "1", "note": "x", "period": "2025-Q2"})
        .status_code
        == 403
    )
    assert not ForecastAdjustment.objects.exists()


# --- Quotas -------------------------------------------------------------------------------


def test_manager_sets_the_teams_quotas_in_the_yearly_grid(client_for, manager, rep, other_rep):
    client = client_for(manager)
    response = client.get(QUOTAS, {"year": 2026})
    html = response.content.decode()
    assert '<input type="hidden" name="year" value="2026">' in html  # not "2 026"
    assert f'name="q_{rep.pk}_10"' in html
    assert f'name="q_{other_rep.pk}_10"' not in html
    assert f'name="q_{manager.pk}_10"' not in html
    response = client.post(
        f"{QUOTAS}?year=2026", {"year": "2026", f"q_{rep.pk}_10": "100000", f"q_{rep.pk}_11": ""}
    )
    assert response.status_code == 302
    assert list(Quota.objects.values_list("owner", "month", "amount")) == [
        (rep.pk, date(2026, 10, 1), Decimal("100000"))
    ]
    # Fields of reps outside the team are simply not part of the form.
    client.post(f"{QUOTAS}?year=2026", {"year": "2026", f"q_{other_rep.pk}_10": "5"})
    assert not Quota.objects.filter(owner=other_rep).exists()


def test_a_negative_quota_is_an_error(client_for, manager, rep):
    response = client_for(manager).post(QUOTAS, {"year": "2026", f"q_{rep.pk}_1": "-3"})
    assert response.status_code == 422
    assert not Quota.objects.exists()


# --- Exports ------------------------------------------------------------------------------


def test_csv_escapes_formulas_and_carries_the_figures(client_for, data_set, manager, rep):
    rep.first_name, rep.last_name = "=HYPERLINK(1)", "+Pérez"
    rep.save()
    ForecastAdjustment.objects.create(
        owner=rep,
        period_start=date(2025, 4, 1),
        period_end=date(2025, 6, 30),
        amount=Decimal("1"),
        note="@SUM(A1)",
        by=manager,
    )
    response = client_for(manager).get(CSV, {"period": "2025-Q2"})
    assert response["Content-Disposition"] == 'attachment; filename="prevision-2025-Q2.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_name = {row[0]: row for row in rows[1:]}
    rep_row = by_name["'=HYPERLINK(1) +Pérez"]
    assert rep_row[3:6] == ["350000.00", "205000.00", "40000.00"]
    assert rep_row[12] == "'@SUM(A1)"
    assert by_name["Total del equipo"][4] == "215000.00"
    assert any(row[0].startswith("Sin tipo de cambio: COP") for row in rows)
    assert AuditEvent.objects.filter(action="export", target="forecast:2025-Q2").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+52", "+52"),
        ("+x", "'+x"),
        ("-x", "'-x"),
        ("@a", "'@a"),
        ("Ana", "Ana"),
    ],
)
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected
    assert csv_cell(Decimal("-5")) == Decimal("-5")  # numbers stay numbers


def test_pdf_shows_the_right_totals(client_for, data_set, manager, tmp_path):
    response = client_for(manager).get(PDF, {"period": "2025-Q2"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = plain(pdf_text(response.content))
    assert "2.º trimestre de 2025" in text
    total_line = next(line for line in text.splitlines() if "Total del equipo" in line)
    for figure in ("350000", "215000", "135000", "40000", "21000", "36750", "255000"):
        assert plain(money(figure)) in total_line
    assert "61,4 %" in total_line
    assert "COP" in text  # the excluded currency is named


def test_unrelated_won_deal_in_other_pipeline_stage_is_not_counted(client_for, rep):
    OpportunityFactory(owner=rep, stage=stage("Negociación"), closed_at=at(2025, 5, 1))
    response = client_for(rep).get(FORECAST, {"period": "2025-Q2"})
    assert response.context["forecast"].total.won == Decimal("0")
