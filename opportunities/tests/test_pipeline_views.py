"""The pipeline's pages: list, detail, forms, lines by htmx, products, the account panel; and
who may open each URL."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.tests.pages import form_values, loaded_version
from opportunities.models import Activity, ExchangeRate, LineItem, Opportunity, Product, StageChange
from opportunities.services.pipeline import opportunity_update
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]
SEES_REPS_DEALS = {"rep", "manager", "admin_user"}
SELLERS = {"rep", "manager", "other_rep", "admin_user"}


@pytest.fixture
def deal(rep):
    account = AccountFactory(owner=rep, name="Ferretería Bustamante")
    contact = ContactFactory(account=account, owner=rep, email="compras@bustamante.mx")
    return OpportunityFactory(owner=rep, account=account, contact=contact, name="Renovación 2026")


# The access matrix ------------------------------------------------------------------------


def _deal_urls(deal) -> list[str]:
    line = LineItem.objects.create(
        opportunity=deal, description="A", quantity=1, unit_price=Decimal("10")
    )
    return [
        reverse("opportunities:opportunity-detail", args=[deal.pk]),
        reverse("opportunities:opportunity-update", args=[deal.pk]),
        reverse("opportunities:line-items", args=[deal.pk]),
        reverse("opportunities:line-item-update", args=[line.pk]),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_a_deals_pages_answer_404_to_whoever_may_not_see_it(request, client_for, deal, role):
    client = client_for(request.getfixturevalue(role))
    expected = 200 if role in SEES_REPS_DEALS else 404
    for url in _deal_urls(deal):
        assert client.get(url, **HTMX).status_code == expected, url


@pytest.mark.parametrize("role", ROLES)
def test_writes_to_a_deal_answer_404_to_whoever_may_not_change_it(request, client_for, deal, role):
    client = client_for(request.getfixturevalue(role))
    allowed = role in SEES_REPS_DEALS
    line = LineItem.objects.create(
        opportunity=deal, description="A", quantity=1, unit_price=Decimal("10")
    )
    posts = [
        (reverse("opportunities:opportunity-update", args=[deal.pk]), {"name": "X"}, 422),
        (reverse("opportunities:opportunity-move", args=[deal.pk]), {"stage": ""}, 302),
        (reverse("opportunities:line-item-add", args=[deal.pk]), {}, 302),
        (reverse("opportunities:line-item-update", args=[line.pk]), {}, 302),
        (reverse("opportunities:quote-issue", args=[deal.pk]), {}, 302),
        (reverse("opportunities:line-item-remove", args=[line.pk]), {}, 302),
    ]
    for url, data, allowed_status in posts:
        response = client.post(url, data)
        assert response.status_code == (allowed_status if allowed else 404), url
    assert LineItem.objects.filter(pk=line.pk).exists() is not allowed


@pytest.mark.parametrize("role", ROLES)
def test_seller_pages_are_refused_to_support_and_marketing(request, client_for, deal, role):
    client = client_for(request.getfixturevalue(role))
    expected = 200 if role in SELLERS else 403
    for url in [
        reverse("opportunities:board"),
        reverse("opportunities:opportunity-list"),
        reverse("opportunities:opportunity-count"),
        reverse("opportunities:opportunity-create"),
        reverse("opportunities:opportunity-contact-options") + f"?account={deal.account_id}",
        reverse("opportunities:account-opportunities-panel", args=[deal.account_id]),
    ]:
        assert client.get(url).status_code == expected, url


@pytest.mark.parametrize("role", ROLES)
def test_products_are_for_administrators(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    product = ProductFactory()
    expected = 200 if role == "admin_user" else 403
    for url in [
        reverse("opportunities:product-list"),
        reverse("opportunities:product-count"),
        reverse("opportunities:product-create"),
        reverse("opportunities:product-update", args=[product.pk]),
    ]:
        assert client.get(url).status_code == expected, url


# The list ---------------------------------------------------------------------------------


def test_list_shows_only_visible_deals(client_for, rep, other_rep, deal):
    OpportunityFactory(owner=other_rep, name="Ajena")
    response = client_for(rep).get(reverse("opportunities:opportunity-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Renovación 2026" in html and "Ajena" not in html


def test_list_filters(client_for, rep, deal):
    today = timezone.localdate()
    OpportunityFactory(
        owner=rep,
        name="En dólares",
        currency="USD",
        stage=stage("Propuesta"),
        expected_close_date=today + timedelta(days=200),
    )
    client = client_for(rep)
    url = reverse("opportunities:opportunity-list")

    def names(query: str) -> set[str]:
        response = client.get(url + query, **HTMX)
        assert b"<html" not in response.content
        return {o.name for o in response.context["page_obj"]}

    assert names("?currency=USD") == {"En dólares"}
    assert names(f"?stage={stage('Prospección').pk}") == {"Renovación 2026"}
    assert names("?q=bustamante") == {"Renovación 2026"}
    assert names("?q=dolares") == set() or names("?q=dólares") == {"En dólares"}
    assert names(f"?close_from={(today + timedelta(days=100)).isoformat()}") == {"En dólares"}
    assert names("?forecast_category=commit") == set()
    assert names("?status=open") == {"Renovación 2026", "En dólares"}
    assert names(f"?account={deal.account_id}") == {"Renovación 2026"}


def test_list_count(client_for, rep, deal):
    response = client_for(rep).get(reverse("opportunities:opportunity-count"))
    assert "de 1 en total" in response.content.decode()


def test_list_query_count_is_constant(client_for, rep, django_assert_max_num_queries):
    client = client_for(rep)
    OpportunityFactory.create_batch(2, owner=rep)
    url = reverse("opportunities:opportunity-list")
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    OpportunityFactory.create_batch(30, owner=rep, currency="USD")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(response.context["page_obj"]) == 25


# The detail and its lines -----------------------------------------------------------------


def test_detail_shows_history_lines_quotes_and_the_activities_place(client_for, rep, deal):
    LineItem.objects.create(
        opportunity=deal,
        description="Licencia anual",
        quantity=Decimal("2"),
        unit_price=Decimal("1000"),
        discount_pct=Decimal("10"),
        tax_rate=Decimal("16"),
    )
    StageChange.objects.create(opportunity=deal, to_stage=stage("Prospección"), by=rep)
    response = client_for(rep).get(deal.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Licencia anual" in html
    assert "1\xa0800,00" in html  # net of the line
    assert "288,00" in html  # IVA 16 %
    assert "2\xa0088,00" in html  # total
    assert "Creada en <strong>Prospección</strong>" in html
    assert 'id="activities-panel"' in html
    assert 'id="quotes"' in html


def test_detail_of_a_deal_in_a_currency_without_rate_warns(client_for, rep):
    deal = OpportunityFactory(owner=rep, currency="CLP", amount=Decimal("900000"))
    html = client_for(rep).get(deal.get_absolute_url()).content.decode()
    assert "sin tipo de cambio" in html


def test_detail_shows_the_converted_amount(client_for, rep):
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("20"), valid_from=date(2020, 1, 1))
    deal = OpportunityFactory(owner=rep, currency="EUR", amount=Decimal("1000"))
    html = client_for(rep).get(deal.get_absolute_url()).content.decode()
    assert "20\xa0000,00 MXN" in html


def test_add_edit_and_remove_lines_by_htmx(client_for, rep, deal):
    client = client_for(rep)
    response = client.post(
        reverse("opportunities:line-item-add", args=[deal.pk]),
        {"description": "Servicio", "quantity": "3", "unit_price": "100", "discount_pct": "0"},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="lines"' in html and "Servicio" in html
    assert 'id="opportunity-amount"' in html and 'hx-swap-oob="true"' in html
    assert "300,00 MXN" in html
    line = deal.line_items.get()
    response = client.get(reverse("opportunities:line-item-update", args=[line.pk]), **HTMX)
    assert f'name="line-{line.pk}-quantity"' in response.content.decode()
    response = client.post(
        reverse("opportunities:line-item-update", args=[line.pk]),
        {
            f"line-{line.pk}-description": "Servicio",
            f"line-{line.pk}-quantity": "4",
            f"line-{line.pk}-unit_price": "100",
            f"line-{line.pk}-discount_pct": "0",
            f"line-{line.pk}-tax_rate": "16",
        },
        **HTMX,
    )
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.amount == Decimal("400.00")
    response = client.post(reverse("opportunities:line-item-remove", args=[line.pk]), **HTMX)
    assert response.status_code == 200
    assert not deal.line_items.exists()


def test_a_wrong_line_shows_its_errors_in_place(client_for, rep, deal):
    response = client_for(rep).post(
        reverse("opportunities:line-item-add", args=[deal.pk]),
        {"quantity": "1", "discount_pct": "0"},
        **HTMX,
    )
    assert response.status_code == 422
    assert "Describe la línea o elige un producto." in response.content.decode()
    assert not deal.line_items.exists()


def test_a_product_line_from_the_form(client_for, rep, deal):
    product = ProductFactory(name="Terminal TPV", price=Decimal("12800"), tax_rate=Decimal("16"))
    client_for(rep).post(
        reverse("opportunities:line-item-add", args=[deal.pk]),
        {"product": product.pk, "quantity": "2", "discount_pct": "5"},
        **HTMX,
    )
    line = deal.line_items.get()
    assert (line.description, line.unit_price) == ("Terminal TPV", Decimal("12800.00"))
    deal.refresh_from_db()
    assert deal.amount == Decimal("24320.00")


def test_editing_a_line_without_javascript(client_for, rep, deal):
    line = LineItem.objects.create(
        opportunity=deal, description="A", quantity=1, unit_price=Decimal("10")
    )
    client = client_for(rep)
    response = client.get(reverse("opportunities:line-item-update", args=[line.pk]))
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert f'name="line-{line.pk}-quantity"' in response.content.decode()


# Create and edit --------------------------------------------------------------------------


def test_create_with_the_account_preselected(client_for, rep, deal):
    account = deal.account
    client = client_for(rep)
    response = client.get(reverse("opportunities:opportunity-create") + f"?account={account.pk}")
    html = response.content.decode()
    assert f'value="{account.pk}"' in html and "Ferretería Bustamante" in html
    assert "compras@bustamante.mx" not in html  # contacts by name
    assert deal.contact.full_name in html
    response = client.post(
        reverse("opportunities:opportunity-create"),
        {
            "name": "Ampliación",
            "account": account.pk,
            "contact": deal.contact.pk,
            "stage": stage("Calificación").pk,
            "amount": "150000",
            "currency": "USD",
            "expected_close_date": "2026-09-30",
            "forecast_category": "best_case",
            "lead_source": "web",
        },
    )
    created = Opportunity.objects.get(name="Ampliación")
    assert response.status_code == 302 and response["Location"] == created.get_absolute_url()
    assert (created.owner, created.stage, created.currency) == (rep, stage("Calificación"), "USD")
    assert created.stage_changes.count() == 1


def test_create_refuses_a_contact_of_another_account(client_for, rep, deal):
    other = ContactFactory(owner=rep)
    response = client_for(rep).post(
        reverse("opportunities:opportunity-create"),
        {
            "name": "X",
            "account": deal.account_id,
            "contact": other.pk,
            "stage": stage("Prospección").pk,
            "currency": "MXN",
            "expected_close_date": "2026-09-30",
            "forecast_category": "pipeline",
            "lead_source": "web",
        },
    )
    assert response.status_code == 422
    assert not Opportunity.objects.filter(name="X").exists()


HUGE = "9" * 40  # digits past any database integer (SQLite raised OverflowError)


@pytest.mark.parametrize("bad", ["abc", "²", HUGE])  # "²" passes str.isdigit(), not int()
def test_ids_no_account_can_have_are_the_forms_error_not_a_500(client_for, rep, deal, bad):
    client = client_for(rep)
    client.raise_request_exception = False
    response = client.post(
        reverse("opportunities:opportunity-create"),
        {
            "name": "X",
            "account": bad,
            "stage": stage("Prospección").pk,
            "currency": "MXN",
            "expected_close_date": "2026-09-30",
            "forecast_category": "pipeline",
            "lead_source": "web",
        },
    )
    assert response.status_code == 422
    assert not Opportunity.objects.filter(name="X").exists()
    create = client.get(reverse("opportunities:opportunity-create"), {"account": bad})
    assert create.status_code == 200
    options = client.get(reverse("opportunities:opportunity-contact-options"), {"account": bad})
    assert options.status_code == 200
    detail = client.get(deal.get_absolute_url(), {"edit_line": bad})
    assert detail.status_code == 200


def test_filters_with_ids_no_row_can_have_are_dropped_not_a_500(client_for, rep, deal):
    client = client_for(rep)
    client.raise_request_exception = False
    for name in ("opportunities:opportunity-list", "opportunities:opportunity-count"):
        for param in ("account", "stage"):
            assert client.get(reverse(name), {param: HUGE}).status_code == 200, (name, param)
    assert client.get(f"/ventas/oportunidades/de-cuenta/{HUGE}/").status_code == 404


def test_a_next_that_is_not_a_path_goes_back_to_the_deal(client_for, rep, deal):
    """redirect() took "abc" for the name of a URL pattern, and failed with a 500."""
    response = client_for(rep).post(
        reverse("opportunities:opportunity-move", args=[deal.pk]),
        {"stage": stage("Calificación").pk, "next": "abc"},
    )
    assert response.status_code == 302
    assert response["Location"] == deal.get_absolute_url()


def test_contact_options_follow_the_account(client_for, rep, deal):
    response = client_for(rep).get(
        reverse("opportunities:opportunity-contact-options") + f"?account={deal.account_id}"
    )
    assert f'value="{deal.contact.pk}"' in response.content.decode()


def test_update(client_for, rep, deal):
    client = client_for(rep)
    url = reverse("opportunities:opportunity-update", args=[deal.pk])
    response = client.post(
        url,
        {
            "version": loaded_version(client, url),
            "name": "Renovación 2027",
            "account": deal.account_id,
            "contact": deal.contact_id,
            "amount": "5000",
            "currency": "EUR",
            "expected_close_date": "2027-01-31",
            "forecast_category": "commit",
            "lead_source": "evento",
        },
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.currency, deal.forecast_category) == (
        "Renovación 2027",
        "EUR",
        "commit",
    )
    assert deal.expected_close_date == date(2027, 1, 31)


# The account panel and products ----------------------------------------------------------


def test_account_panel_lists_visible_open_and_recent_deals(client_for, rep, other_rep, deal):
    OpportunityFactory(owner=other_rep, account=deal.account, name="Ajena")
    response = client_for(rep).get(
        reverse("opportunities:account-opportunities-panel", args=[deal.account_id])
    )
    html = response.content.decode()
    assert "Renovación 2026" in html and "Ajena" not in html
    assert f"?account={deal.account_id}" in html


def test_admin_creates_and_edits_products(client_for, admin_user):
    client = client_for(admin_user)
    response = client.post(
        reverse("opportunities:product-create"),
        {
            "name": "Licencia",
            "sku": "LIC-1",
            "price": "18500",
            "currency": "MXN",
            "tax_rate": "16",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    product = Product.objects.get(sku="LIC-1")
    response = client.post(
        reverse("opportunities:product-update", args=[product.pk]),
        {"name": "Licencia", "sku": "LIC-1", "price": "19000", "currency": "MXN", "tax_rate": "16"},
    )
    product.refresh_from_db()
    assert (product.price, product.is_active) == (Decimal("19000.00"), False)
    listing = client.get(reverse("opportunities:product-list") + "?archived=on")
    assert "LIC-1" in listing.content.decode()
    assert "LIC-1" not in client.get(reverse("opportunities:product-list")).content.decode()


def test_detail_loads_the_deals_own_activity_timeline(rep, client_for):
    opportunity = OpportunityFactory(owner=rep)
    response = client_for(rep).get(opportunity.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("opportunities:opportunity-activities-panel", args=[opportunity.pk]) in body
    assert f"?account={opportunity.account_id}" in body  # the account's, one link away


def test_the_deal_panel_shows_its_activities_only_and_logs_tied_to_it(rep, client_for):
    opportunity = OpportunityFactory(owner=rep)
    other = OpportunityFactory(owner=rep, account=opportunity.account)
    ActivityFactory(
        owner=rep, account=opportunity.account, opportunity=opportunity, subject="Demo del sistema"
    )
    ActivityFactory(
        owner=rep, account=opportunity.account, opportunity=other, subject="Visita de otro proyecto"
    )
    client = client_for(rep)
    panel = client.get(
        reverse("opportunities:opportunity-activities-panel", args=[opportunity.pk]),
        headers={"HX-Request": "true"},
    )
    body = panel.content.decode()
    assert "Demo del sistema" in body
    assert "Visita de otro proyecto" not in body
    response = client.post(
        f"{reverse('opportunities:activity-log')}?opportunity={opportunity.pk}",
        {
            "kind": "llamada",
            "when": "2026-11-20T10:00",
            "outcome": "Pidió la cotización",
            "opportunity": opportunity.pk,
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    logged = Activity.objects.get(outcome="Pidió la cotización")
    assert (logged.opportunity, logged.account) == (opportunity, opportunity.account)


def test_the_deal_panel_of_another_reps_deal_is_404(rep, other_rep, client_for):
    opportunity = OpportunityFactory(owner=other_rep)
    url = reverse("opportunities:opportunity-activities-panel", args=[opportunity.pk])
    assert client_for(rep).get(url).status_code == 404
    listing = f"{reverse('opportunities:activity-list')}?opportunity={opportunity.pk}"
    assert client_for(rep).get(listing).status_code == 404


# No lost update (issue 13 §2) ------------------------------------------------------------


def test_a_stale_edit_overwrites_nothing_and_saving_again_reapplies(client_for, rep, manager, deal):
    client = client_for(rep)
    url = reverse("opportunities:opportunity-update", args=[deal.pk])
    data = form_values(client.get(url).text)
    # Meanwhile the manager saves the same deal.
    opportunity_update(
        actor=manager,
        opportunity=deal,
        data={"expected_close_date": date(2027, 3, 31)},
        contact=deal.contact,
    )

    response = client.post(url, {**data, "name": "Renovación 2027"})

    assert response.status_code == 409
    deal.refresh_from_db()
    assert (deal.name, deal.expected_close_date) == ("Renovación 2026", date(2027, 3, 31))
    page = response.text
    # No history on deals: who saved is not known.
    assert "Alguien guardó cambios en «Renovación 2026»" in page
    assert "Revisa lo que cambió y vuelve a guardar." in page
    assert "<td>Cierre previsto</td>" in page and "<td>31 de marzo de 2027</td>" in page
    again = form_values(page)
    assert again["name"] == "Renovación 2027" and again["version"] != data["version"]

    response = client.post(url, again)

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.name == "Renovación 2027"


def test_an_edit_without_its_version_is_refused_like_a_stale_one(client_for, rep, deal):
    client = client_for(rep)
    url = reverse("opportunities:opportunity-update", args=[deal.pk])
    data = form_values(client.get(url).text)
    data.pop("version")

    response = client.post(url, {**data, "name": "Renovación 2027"})

    assert response.status_code == 409 and "no indica qué versión" in response.text
    deal.refresh_from_db()
    assert deal.name == "Renovación 2026"
    assert client.post(url, form_values(response.text)).status_code == 302
    deal.refresh_from_db()
    assert deal.name == "Renovación 2027"


def test_a_new_line_meanwhile_is_no_conflict_for_a_form_whose_amount_is_the_lines(
    client_for, rep, deal
):
    LineItem.objects.create(opportunity=deal, description="A", quantity=1, unit_price=Decimal("10"))
    client = client_for(rep)
    url = reverse("opportunities:opportunity-update", args=[deal.pk])
    data = form_values(client.get(url).text)
    assert "amount" not in data  # disabled: the sum of the lines
    opportunity_update(
        actor=rep, opportunity=deal, data={"amount": Decimal("999")}, contact=deal.contact
    )
    assert client.post(url, {**data, "name": "Renovación 2027"}).status_code == 302
