"""Sales in the REST API (issue 11): opportunities, their lines and stage moves, stages,
products and activities, with the pages' visibility per role, the key's scopes, ETag /
If-Match, problem details in Spanish, bounded queries and stable cursor pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from crm.core.api.tokens import SCOPES, token_create
from crm.core.models import Role
from crm.core.tests.factories import UserFactory
from opportunities.models import (
    Activity,
    ActivityKind,
    LineItem,
    Opportunity,
    Product,
    StageChange,
)
from opportunities.tests.factories import (
    ActivityFactory,
    OpportunityFactory,
    ProductFactory,
    stage,
)

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def api(user, scopes=None) -> APIClient:
    """A client with a new personal key of `user` (crm/top/tests/test_api.py's helper: this
    app may not import crm.top)."""
    _token, key = token_create(user=user, name="ERP", scopes=scopes or SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def deal(rep):
    return OpportunityFactory(owner=rep, name="Uniformes escolares", amount=Decimal("5000.00"))


def _url(name: str, *args) -> str:
    return reverse(f"api:{name}", args=args)


def _queries(client, url: str, params=None) -> int:
    client.get(url, params)  # the key's "last used", once
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, response.json()
    return len(queries)


# Opportunities -----------------------------------------------------------------------------


def test_opportunities_round_trip_through_the_services(rep):
    account = AccountFactory(owner=rep, name="Colegio Juárez")
    contact = ContactFactory(owner=rep, account=account)
    client = api(rep)
    created = client.post(
        _url("opportunity-list"),
        {
            "name": "Mochilas 2026",
            "account": account.pk,
            "contact": contact.pk,
            "amount": "12000.00",
            "expected_close_date": str(timezone.localdate() + timedelta(days=20)),
            "stage_id": stage("Calificación").pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    deal = Opportunity.objects.get(name="Mochilas 2026")
    assert deal.owner == rep and deal.contact == contact
    assert body["stage"]["name"] == "Calificación" and body["account_name"] == "Colegio Juárez"
    assert body["line_items"] == [] and body["owner"] == rep.pk
    # Written by the service: the history starts at the first stage.
    assert [change["to_stage"] for change in body["stage_history"]] == [stage("Calificación").pk]

    url = _url("opportunity-detail", deal.pk)
    read = client.get(url)
    etag = read["ETag"]
    assert read.json()["amount"] == "12000.00"
    assert client.patch(url, {"amount": "15000"}, format="json").status_code == 428
    changed = client.patch(url, {"amount": "15000"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.json()
    assert changed.json()["contact"] == contact.pk  # a change that does not name it keeps it
    assert changed["ETag"] != etag
    stale = client.patch(url, {"amount": "1"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale["Content-Type"] == PROBLEM
    deal.refresh_from_db()
    assert deal.amount == Decimal("15000.00")
    # The stage moves only through move/won/lost.
    moved_here = client.patch(
        url, {"stage_id": stage("Ganada").pk}, format="json", HTTP_IF_MATCH=changed["ETag"]
    )
    assert moved_here.status_code == 400 and "stage_id" in moved_here.json()["errors"]

    moved = client.post(
        _url("opportunity-move", deal.pk), {"stage": stage("Propuesta").pk}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    assert moved.json()["stage"]["name"] == "Propuesta"
    won = client.post(_url("opportunity-won", deal.pk), {"reason": "Precio"}, format="json")
    assert won.status_code == 200
    deal.refresh_from_db()
    assert (deal.stage, deal.won_reason, deal.forecast_category) == (
        stage("Ganada"),
        "Precio",
        "closed",
    )
    assert deal.closed_at is not None
    assert StageChange.objects.filter(opportunity=deal).count() == 3


def test_losing_needs_a_reason_and_writes_nothing_without_one(rep, deal):
    client = api(rep)
    url = _url("opportunity-lost", deal.pk)
    refused = client.post(url, {}, format="json")
    assert refused.status_code == 400 and refused["Content-Type"] == PROBLEM
    problem = refused.json()
    assert problem["title"] == "Datos no válidos"
    assert problem["errors"]["reason"] == ["Indica el motivo por el que se perdió la oportunidad."]
    deal.refresh_from_db()
    assert deal.stage == stage("Prospección") and deal.closed_at is None
    assert not StageChange.objects.filter(opportunity=deal).exists()
    lost = client.post(url, {"reason": "Competencia"}, format="json")
    assert lost.status_code == 200
    assert lost.json()["lost_reason"] == "Competencia"
    assert lost.json()["stage_history"][0]["to_stage"] == stage("Perdida").pk
    # The board's move with a lost stage follows the same rule.
    other = OpportunityFactory(owner=rep)
    bad = client.post(
        _url("opportunity-move", other.pk), {"stage": stage("Perdida").pk}, format="json"
    )
    assert bad.status_code == 400 and "lost_reason" in bad.json()["errors"]


def test_bad_input_is_a_spanish_problem_and_writes_nothing(rep):
    account = AccountFactory(owner=rep)
    stranger = ContactFactory(owner=rep, account=AccountFactory(owner=rep))
    client = api(rep)
    before = Opportunity.objects.count()
    wrong_contact = client.post(
        _url("opportunity-list"),
        {
            "name": "Pizarrones",
            "account": account.pk,
            "contact": stranger.pk,
            "expected_close_date": "2030-01-31",
        },
        format="json",
    )
    assert wrong_contact.status_code == 400
    assert wrong_contact["Content-Type"] == PROBLEM
    assert "no es un contacto de" in wrong_contact.json()["errors"]["contact"][0]
    closed = client.post(
        _url("opportunity-list"),
        {
            "name": "Pizarrones",
            "account": account.pk,
            "expected_close_date": "2030-01-31",
            "stage_id": stage("Ganada").pk,
        },
        format="json",
    )
    assert closed.status_code == 400
    assert closed.json()["errors"]["stage"] == [
        "Una oportunidad nueva empieza en una etapa abierta; después se cierra."
    ]
    missing = client.post(_url("opportunity-list"), {"name": "Sin cuenta"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"]["account"] == ["Este campo es requerido."]
    assert Opportunity.objects.count() == before
    assert not StageChange.objects.exists()


def test_filters_like_the_list_page(rep):
    account = AccountFactory(owner=rep, name="Ferretería El Clavo")
    OpportunityFactory(owner=rep, account=account, name="Tornillería")
    won = OpportunityFactory(owner=rep, name="Pinturas", stage=stage("Ganada"))
    OpportunityFactory(owner=rep, name="Brochas", currency="USD")
    client = api(rep)
    url = _url("opportunity-list")

    def names(**params):
        response = client.get(url, params)
        assert response.status_code == 200, response.json()
        return sorted(row["name"] for row in response.json()["results"])

    assert names() == ["Brochas", "Pinturas", "Tornillería"]
    assert names(status="won") == ["Pinturas"]
    assert names(stage=won.stage_id) == ["Pinturas"]
    assert names(currency="USD") == ["Brochas"]
    assert names(account=account.pk) == ["Tornillería"]
    assert names(q="clavo") == ["Tornillería"]
    sparse = client.get(url, {"fields": "id,name", "page_size": 1}).json()["results"]
    assert set(sparse[0]) == {"id", "name"}
    assert client.get(url, {"ordering": "owner"}).status_code == 400


# Who sees what -----------------------------------------------------------------------------


ROLES = ["rep", "other_rep", "manager", "support", "marketing", "admin"]


@pytest.fixture
def people(rep, other_rep, manager):
    return {
        "rep": rep,
        "other_rep": other_rep,
        "manager": manager,
        "support": UserFactory(role=Role.SOPORTE),
        "marketing": UserFactory(role=Role.MARKETING),
        "admin": UserFactory(role=Role.ADMINISTRADOR),
    }


# role: (sees the rep's deal, may list deals, reads activities, may change the rep's)
OPPORTUNITY_ACCESS = {
    "rep": (True, True, True),
    "other_rep": (False, True, False),
    "manager": (True, True, True),
    "support": (False, False, False),
    "marketing": (False, False, False),
    "admin": (True, True, True),
}


@pytest.mark.parametrize("role", ROLES)
def test_opportunities_access_matrix(role, people, deal):
    client = api(people[role])
    sees, lists, changes = OPPORTUNITY_ACCESS[role]
    listed = client.get(_url("opportunity-list"))
    if lists:
        assert listed.status_code == 200
        ids = [row["id"] for row in listed.json()["results"]]
        assert (deal.pk in ids) is sees
    else:
        assert listed.status_code == 403
        assert listed.json()["detail"] == "Tu rol no tiene acceso a las oportunidades."
    detail = client.get(_url("opportunity-detail", deal.pk))
    assert detail.status_code == (200 if sees else 404)
    for name in ("opportunity-line-list",):
        assert client.get(reverse(f"api:{name}", args=[deal.pk])).status_code == (
            200 if sees else 404
        )
    etag = detail["ETag"] if sees else '"x"'
    patched = client.patch(
        _url("opportunity-detail", deal.pk), {"name": "Mía"}, format="json", HTTP_IF_MATCH=etag
    )
    assert patched.status_code == (200 if changes else 404)
    moved = client.post(
        _url("opportunity-move", deal.pk), {"stage": stage("Propuesta").pk}, format="json"
    )
    assert moved.status_code == (200 if changes else 404)
    deal.refresh_from_db()
    assert (deal.name == "Mía") is changes
    assert (deal.stage == stage("Propuesta")) is changes
    stages = client.get(_url("stage-list"))
    assert stages.status_code == (200 if lists else 403)
    created = client.post(
        _url("opportunity-list"),
        {"name": "Nueva", "account": deal.account_id, "expected_close_date": "2030-01-01"},
        format="json",
    )
    assert created.status_code == (201 if lists else 403)


def test_a_rep_cannot_give_a_deal_to_another_rep(rep, other_rep, deal):
    response = api(rep).post(
        _url("opportunity-list"),
        {
            "name": "Regalo",
            "account": deal.account_id,
            "owner": other_rep.pk,
            "expected_close_date": "2030-01-01",
        },
        format="json",
    )
    assert response.status_code == 400 and "owner" in response.json()["errors"]
    assert not Opportunity.objects.filter(name="Regalo").exists()


def test_scopes_of_the_key(rep, deal):
    read_only = api(rep, scopes=["sales:read"])
    assert read_only.get(_url("opportunity-list")).status_code == 200
    assert read_only.get(_url("activity-list")).status_code == 200
    refused = read_only.post(
        _url("opportunity-move", deal.pk), {"stage": stage("Propuesta").pk}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Tu clave de API no tiene permiso para esta área."
    logged = read_only.post(
        _url("activity-list"),
        {"kind": "llamada", "account": deal.account_id, "outcome": "Hola"},
        format="json",
    )
    assert logged.status_code == 403
    deal.refresh_from_db()
    assert deal.stage == stage("Prospección") and not Activity.objects.exists()
    elsewhere = api(rep, scopes=["accounts:write", "contacts:write"])
    for name in ("opportunity-list", "stage-list", "product-list", "activity-list"):
        assert elsewhere.get(_url(name)).status_code == 403
    assert elsewhere.get(_url("opportunity-detail", deal.pk)).status_code == 403
    writer = api(rep, scopes=["sales:write"])
    assert (
        writer.post(
            _url("opportunity-move", deal.pk), {"stage": stage("Propuesta").pk}, format="json"
        ).status_code
        == 200
    )


# Line items --------------------------------------------------------------------------------


def test_line_items_round_trip_recompute_the_amount(rep, other_rep, deal):
    product = ProductFactory(name="Silla", price=Decimal("800.00"))
    client = api(rep)
    url = _url("opportunity-line-list", deal.pk)
    added = client.post(url, {"product": product.pk, "quantity": "3"}, format="json")
    assert added.status_code == 201, added.json()
    line = LineItem.objects.get(opportunity=deal)
    assert added.json()["description"] == "Silla" and added.json()["unit_price"] == "800.00"
    assert added.json()["net"] == "2400.00" and added.json()["tax"] == "384.00"
    deal.refresh_from_db()
    assert deal.amount == Decimal("2400.00")  # the sum of the lines
    detail = client.get(_url("opportunity-detail", deal.pk)).json()
    assert [row["id"] for row in detail["line_items"]] == [line.pk]
    assert (detail["subtotal"], detail["total"]) == ("2400.00", "2784.00")

    line_url = _url("opportunity-line-detail", deal.pk, line.pk)
    etag = client.get(line_url)["ETag"]
    assert client.patch(line_url, {"quantity": "1"}, format="json").status_code == 428
    changed = client.patch(line_url, {"discount_pct": "10"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.json()
    assert (
        client.patch(line_url, {"quantity": "9"}, format="json", HTTP_IF_MATCH=etag).status_code
        == 412
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("2160.00")
    bad = client.post(url, {"description": "Sin precio"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"]["unit_price"] == [
        "Indica el precio unitario."
    ]
    # Another rep's deal: its lines do not exist for them.
    assert api(other_rep).get(url).status_code == 404
    assert api(other_rep).delete(line_url).status_code == 404
    assert client.delete(line_url).status_code == 204
    assert not LineItem.objects.filter(opportunity=deal).exists()
    assert client.get(_url("opportunity-line-detail", deal.pk, line.pk)).status_code == 404


# Stages and products -----------------------------------------------------------------------


def test_stages_are_read_only_in_their_order(rep):
    client = api(rep)
    response = client.get(_url("stage-list"))
    assert response.status_code == 200
    names = [row["name"] for row in response.json()]
    assert names[0] == "Prospección" and {"Ganada", "Perdida"} <= set(names)
    won = next(row for row in response.json() if row["name"] == "Ganada")
    assert won["is_won"] is True and won["pipeline_name"] == "Ventas"
    assert client.post(_url("stage-list"), {"name": "X"}, format="json").status_code == 405
    assert client.get(_url("stage-list"), {"pipeline": "x"}).status_code == 400


def test_products_sellers_read_the_catalogue_administrators_manage_it(rep, people):
    active = ProductFactory(name="Escritorio", sku="ESC-1")
    retired = ProductFactory(name="Pupitre", sku="PUP-1", is_active=False)
    client = api(rep)
    listed = [row["sku"] for row in client.get(_url("product-list")).json()["results"]]
    assert listed == ["ESC-1"]
    assert client.get(_url("product-detail", retired.pk)).status_code == 404
    assert client.get(_url("product-list"), {"archived": "true"}).json()["results"][0]["sku"] == (
        "ESC-1"
    )
    refused = client.post(
        _url("product-list"), {"name": "Pizarrón", "sku": "PIZ-1", "price": "10"}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Solo un administrador gestiona el catálogo de productos."
    assert not Product.objects.filter(sku="PIZ-1").exists()
    for role in ("support", "marketing"):
        assert api(people[role]).get(_url("product-list")).status_code == 403

    admin = api(people["admin"])
    both = admin.get(_url("product-list"), {"archived": "true", "ordering": "sku"}).json()
    assert [row["sku"] for row in both["results"]] == ["ESC-1", "PUP-1"]
    created = admin.post(
        _url("product-list"),
        {"name": "Pizarrón", "sku": "PIZ-1", "price": "950.00", "tax_rate": "16.00"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = _url("product-detail", active.pk)
    etag = admin.get(url)["ETag"]
    assert admin.patch(url, {"price": "1"}, format="json").status_code == 428
    changed = admin.patch(url, {"is_active": False}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200
    assert admin.patch(url, {"price": "1"}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    active.refresh_from_db()
    assert active.is_active is False and active.price == Decimal("1500.00")
    duplicate = admin.post(
        _url("product-list"), {"name": "Otro", "sku": "PIZ-1", "price": "1"}, format="json"
    )
    assert duplicate.status_code == 400 and "sku" in duplicate.json()["errors"]


# Activities --------------------------------------------------------------------------------


def test_activities_round_trip_through_the_services(rep, deal):
    contact = ContactFactory(owner=rep, account=deal.account)
    client = api(rep)
    when = timezone.now() - timedelta(hours=1)
    logged = client.post(
        _url("activity-list"),
        {
            "kind": "visita",
            "contact": contact.pk,
            "opportunity": deal.pk,
            "done_at": when.isoformat(),
            "outcome": "Pidieron muestra de tela.",
            "next_kind": "llamada",
            "next_at": (timezone.now() + timedelta(days=2)).isoformat(),
        },
        format="json",
    )
    assert logged.status_code == 201, logged.json()
    body = logged.json()
    assert body["status"] == "hecha" and body["account"] == deal.account_id
    assert body["opportunity"] == deal.pk and body["opportunity_name"] == "Uniformes escolares"
    assert body["next_step"]["status"] == "planificada"
    contact.refresh_from_db()
    assert contact.last_contacted_at == when  # moved by the service, in the same transaction

    planned = client.post(
        _url("activity-list"),
        {
            "kind": "reunion",
            "status": "planificada",
            "account": deal.account_id,
            "planned_at": (timezone.now() + timedelta(days=3)).isoformat(),
            "subject": "Presentación",
        },
        format="json",
    )
    assert planned.status_code == 201, planned.json()
    url = _url("activity-detail", planned.json()["id"])
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"place": "Oficina"}, format="json").status_code == 428
    moved = client.patch(url, {"place": "Oficina"}, format="json", HTTP_IF_MATCH=etag)
    assert moved.status_code == 200 and moved.json()["place"] == "Oficina"
    stale = client.patch(url, {"place": "Café"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    no_outcome = client.post(_url("activity-complete", planned.json()["id"]), {"outcome": ""})
    assert no_outcome.status_code == 400
    assert no_outcome.json()["errors"]["outcome"] == ["Indica el resultado de la actividad."]
    done = client.post(
        _url("activity-complete", planned.json()["id"]), {"outcome": "Aceptaron"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "hecha"
    again = client.post(_url("activity-cancel", planned.json()["id"]))
    assert again.status_code == 400
    assert again.json()["errors"]["non_field_errors"] == [
        "Solo una actividad planificada puede cancelarse."
    ]
    activity = Activity.objects.get(pk=planned.json()["id"])
    assert (activity.status, activity.place) == ("hecha", "Oficina")


def test_a_done_activity_needs_an_outcome_and_writes_nothing(rep):
    account = AccountFactory(owner=rep)
    response = api(rep).post(
        _url("activity-list"),
        {"kind": "llamada", "account": account.pk, "outcome": " "},
        format="json",
    )
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert response.json()["errors"]["outcome"] == ["Indica el resultado de la actividad."]
    no_customer = api(rep).post(
        _url("activity-list"), {"kind": "llamada", "outcome": "Hola"}, format="json"
    )
    assert no_customer.status_code == 400
    assert no_customer.json()["errors"]["non_field_errors"] == [
        "Indica la cuenta o el contacto de la actividad."
    ]
    assert not Activity.objects.exists()


# role: (lists activities, sees the rep's, may change the rep's, sees its deal)
ACTIVITY_ACCESS = {
    "rep": (True, True, True, True),
    "other_rep": (True, False, False, False),
    "manager": (True, True, True, True),
    "support": (True, True, False, False),
    "marketing": (False, False, False, False),
    "admin": (True, True, True, True),
}


@pytest.mark.parametrize("role", ROLES)
def test_activities_access_matrix(role, people, rep, deal):
    activity = ActivityFactory(owner=rep, account=deal.account, opportunity=deal)
    client = api(people[role])
    lists, sees, changes, sees_deal = ACTIVITY_ACCESS[role]
    listed = client.get(_url("activity-list"))
    if lists:
        assert listed.status_code == 200
        rows = {row["id"]: row for row in listed.json()["results"]}
        assert (activity.pk in rows) is sees
        if sees:
            assert rows[activity.pk]["opportunity"] == (deal.pk if sees_deal else None)
            assert rows[activity.pk]["opportunity_name"] == (deal.name if sees_deal else None)
    else:
        assert listed.status_code == 403
        assert listed.json()["detail"] == "Tu rol no puede ver actividades."
    url = _url("activity-detail", activity.pk)
    detail = client.get(url)
    assert detail.status_code == (200 if sees else 404)
    etag = detail["ETag"] if sees else '"x"'
    patched = client.patch(url, {"subject": "Cambiada"}, format="json", HTTP_IF_MATCH=etag)
    assert patched.status_code == (200 if changes else 403 if sees else 404)
    activity.refresh_from_db()
    assert (activity.subject == "Cambiada") is changes
    by_deal = client.get(_url("activity-list"), {"opportunity": deal.pk})
    assert by_deal.status_code == (200 if sees_deal else 403 if not lists else 404)


def test_support_logs_the_calls_it_answers_and_nothing_else(people, rep, deal):
    support = api(people["support"])
    contact = ContactFactory(owner=rep, account=deal.account)
    call = support.post(
        _url("activity-list"),
        {"kind": "llamada", "contact": contact.pk, "outcome": "Pregunta por su pedido."},
        format="json",
    )
    assert call.status_code == 201, call.json()
    assert Activity.objects.get(pk=call.json()["id"]).owner == people["support"]
    planned = support.post(
        _url("activity-list"),
        {
            "kind": "visita",
            "status": "planificada",
            "contact": contact.pk,
            "planned_at": (timezone.now() + timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert planned.status_code == 403
    on_a_deal = support.post(
        _url("activity-list"),
        {"kind": "llamada", "contact": contact.pk, "opportunity": deal.pk, "outcome": "x"},
        format="json",
    )
    assert on_a_deal.status_code == 400 and "opportunity" in on_a_deal.json()["errors"]
    marketing = api(people["marketing"]).post(
        _url("activity-list"),
        {"kind": "llamada", "contact": contact.pk, "outcome": "x"},
        format="json",
    )
    assert marketing.status_code == 403
    assert Activity.objects.count() == 1


def test_activity_filters_like_the_list_page(rep):
    account = AccountFactory(owner=rep)
    ActivityFactory(owner=rep, account=account, kind=ActivityKind.CALL)
    ActivityFactory(
        owner=rep,
        kind=ActivityKind.VISIT,
        status=Activity.Status.DONE,
        done_at=timezone.now(),
        outcome="Bien",
    )
    client = api(rep)
    url = _url("activity-list")

    def kinds(**params):
        response = client.get(url, params)
        assert response.status_code == 200, response.json()
        return sorted(row["kind"] for row in response.json()["results"])

    assert kinds() == ["llamada", "visita"]
    assert kinds(account=account.pk) == ["llamada"]
    assert kinds(status="hecha") == ["visita"]
    assert kinds(kind="llamada", mine="true") == ["llamada"]
    bad = client.get(url, {"status": "quizá"})
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


# Queries and pages -------------------------------------------------------------------------


def _many_deals(owner, n: int) -> None:
    account = AccountFactory(owner=owner)
    Opportunity.objects.bulk_create(
        OpportunityFactory.build(owner=owner, account=account) for _ in range(n)
    )


def test_list_queries_are_bounded_and_do_not_grow_with_rows(rep, manager):
    product_client, deal_client, activity_client = api(manager), api(rep), api(rep)
    _many_deals(rep, 3)
    account = AccountFactory(owner=rep)
    ActivityFactory.create_batch(3, owner=rep, account=account)
    ProductFactory.create_batch(3)
    deal = Opportunity.objects.filter(owner=rep).first()
    LineItem.objects.bulk_create(
        LineItem(opportunity=deal, description=f"L{i}", unit_price=1) for i in range(3)
    )
    urls = {
        "deals": (deal_client, _url("opportunity-list")),
        "activities": (activity_client, _url("activity-list")),
        "products": (product_client, _url("product-list")),
        "lines": (deal_client, _url("opportunity-line-list", deal.pk)),
        "detail": (deal_client, _url("opportunity-detail", deal.pk)),
        "stages": (deal_client, _url("stage-list")),
    }
    few = {name: _queries(client, url) for name, (client, url) in urls.items()}
    _many_deals(rep, 120)
    ActivityFactory.create_batch(60, owner=rep, account=account)
    ProductFactory.create_batch(60)
    LineItem.objects.bulk_create(
        LineItem(opportunity=deal, description=f"M{i}", unit_price=1) for i in range(60)
    )
    many = {name: _queries(client, url) for name, (client, url) in urls.items()}
    assert many == few
    assert max(many.values()) <= 8, many
    filtered = _queries(deal_client, _url("opportunity-list"), {"stage": stage("Prospección").pk})
    assert filtered <= 8


@pytest.mark.parametrize("ordering", ["-id", "expected_close_date", "-amount"])
def test_cursor_pages_are_stable_while_rows_are_added(rep, ordering):
    account = AccountFactory(owner=rep)
    today = timezone.localdate()
    Opportunity.objects.bulk_create(
        OpportunityFactory.build(
            owner=rep,
            account=account,
            expected_close_date=today + timedelta(days=i % 7),  # many ties
            amount=Decimal(100 * (i % 5)),
        )
        for i in range(130)
    )
    expected = set(Opportunity.objects.filter(owner=rep).values_list("pk", flat=True))
    client = api(rep)
    page = client.get(_url("opportunity-list"), {"page_size": 40, "ordering": ordering}).json()
    assert "count" not in page
    seen = [row["id"] for row in page["results"]]
    OpportunityFactory(owner=rep, account=account, expected_close_date=today)  # meanwhile
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    assert len(seen) == len(set(seen))
    assert expected <= set(seen)


# The schema and the ETag ---------------------------------------------------------------------


def test_the_schema_has_the_sales_endpoints(rep):
    from openapi_spec_validator import validate

    schema = api(rep).get(reverse("api:schema"), {"format": "json"}).json()
    validate(schema)
    assert {
        "/api/v1/opportunities/",
        "/api/v1/opportunities/{id}/",
        "/api/v1/opportunities/{id}/move/",
        "/api/v1/opportunities/{id}/won/",
        "/api/v1/opportunities/{id}/lost/",
        "/api/v1/opportunities/{opportunity_pk}/lines/",
        "/api/v1/opportunities/{opportunity_pk}/lines/{id}/",
        "/api/v1/stages/",
        "/api/v1/products/",
        "/api/v1/products/{id}/",
        "/api/v1/activities/",
        "/api/v1/activities/{id}/",
        "/api/v1/activities/{id}/complete/",
        "/api/v1/activities/{id}/cancel/",
    } <= set(schema["paths"])


def test_an_etag_read_a_while_ago_still_matches(rep, deal, monkeypatch):
    import time

    client = api(rep)
    url = _url("opportunity-detail", deal.pk)
    etag = client.get(url)["ETag"]
    later = time.time() + 30
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = client.patch(url, {"name": "Más tarde"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200
