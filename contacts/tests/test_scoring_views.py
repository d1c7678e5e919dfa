"""The rules pages (marketing and administrators only) and the score on the contact sheet."""

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import ScoreChange, ScoreRule
from contacts.tests.factories import ContactFactory, ScoreRuleFactory
from crm.core.models import AuditEvent, QueuedTask

pytestmark = pytest.mark.django_db

LIST = reverse("contacts:score-rule-list")
CREATE = reverse("contacts:score-rule-create")
RECOMPUTE = reverse("contacts:score-recompute")


def _profile_post(**overrides) -> dict:
    data = {
        "name": "Sector construcción",
        "kind": "perfil",
        "field": "industria",
        "choice_values": ["industria:construccion", "industria:comercio"],
        "text_values": "",
        "event": "",
        "points": "20",
        "half_life_days": "",
        "max_points": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", ["rep", "manager", "support"])
def test_other_roles_get_403_everywhere(request, client_for, role):
    rule = ScoreRuleFactory()
    client = client_for(request.getfixturevalue(role))
    assert client.get(LIST).status_code == 403
    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, _profile_post()).status_code == 403
    update = reverse("contacts:score-rule-update", args=[rule.pk])
    assert client.get(update).status_code == 403
    toggle = reverse("contacts:score-rule-toggle", args=[rule.pk])
    assert client.post(toggle, {"active": "0"}).status_code == 403
    assert client.post(RECOMPUTE).status_code == 403
    rule.refresh_from_db()
    assert rule.active and ScoreRule.objects.count() == 1
    assert not QueuedTask.objects.exists()


@pytest.mark.parametrize("role", ["marketing", "admin_user"])
def test_marketing_and_administrators_see_the_pages(request, client_for, role):
    ScoreRuleFactory(name="Sector construcción")
    client = client_for(request.getfixturevalue(role))
    response = client.get(LIST)
    assert response.status_code == 200
    assert "Sector construcción" in response.text and "Construcción" in response.text
    assert "Recalcular ahora" in response.text
    assert client.get(CREATE).status_code == 200


def test_create_a_profile_rule(marketing, client_for):
    response = client_for(marketing).post(CREATE, _profile_post())
    assert response.status_code == 302 and response.url == LIST
    rule = ScoreRule.objects.get()
    assert (rule.field, rule.values, rule.points) == ("industria", ["construccion", "comercio"], 20)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CREATE).count() == 1


def test_create_a_job_title_rule_from_typed_words(marketing, client_for):
    response = client_for(marketing).post(
        CREATE,
        _profile_post(field="puesto", choice_values=[], text_values="Director, Gerente de Compras"),
    )
    assert response.status_code == 302
    assert ScoreRule.objects.get().values == ["director", "gerente de compras"]


def test_create_a_behaviour_rule(marketing, client_for):
    response = client_for(marketing).post(
        CREATE,
        _profile_post(
            kind="comportamiento",
            field="",
            choice_values=[],
            event="clic",
            points="10",
            half_life_days="30",
            max_points="40",
        ),
    )
    assert response.status_code == 302
    rule = ScoreRule.objects.get()
    assert (rule.event, rule.half_life_days, rule.max_points, rule.values) == ("clic", 30, 40, [])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"points": "500"}, "menor o igual a 100"),
        ({"points": "0"}, "no puede valer 0"),
        ({"choice_values": ["tamano:grande"]}, "Elige solo valores del dato"),
        ({"choice_values": []}, "Indica al menos un valor"),
        ({"field": ""}, "Elige el dato"),
        ({"field": "puesto", "choice_values": [], "text_values": "c++"}, "solo letras"),
        (
            {"kind": "comportamiento", "event": "clic", "half_life_days": "0"},
            "mayor o igual a 1",
        ),
        ({"kind": "comportamiento", "event": "clic", "half_life_days": ""}, "mitad de sus puntos"),
        ({"kind": "comportamiento", "event": "", "half_life_days": "7"}, "Elige el evento"),
    ],
)
def test_a_bad_value_shows_a_spanish_error_and_writes_nothing(
    marketing, client_for, overrides, message
):
    response = client_for(marketing).post(CREATE, _profile_post(**overrides))
    assert response.status_code == 422
    assert message in response.text
    assert not ScoreRule.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CREATE).exists()


def test_edit_a_rule_and_a_bad_edit_changes_nothing(marketing, client_for):
    rule = ScoreRuleFactory(points=20, values=["construccion"])
    client = client_for(marketing)
    url = reverse("contacts:score-rule-update", args=[rule.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'value="industria:construccion" selected' in page.text
    bad = client.post(url, _profile_post(points="-101", active="on"))
    assert bad.status_code == 422 and "mayor o igual a -100" in bad.text
    rule.refresh_from_db()
    assert rule.points == 20
    good = client.post(url, _profile_post(points="-10", active="on"))
    assert good.status_code == 302
    rule.refresh_from_db()
    assert (rule.points, rule.values, rule.active) == (-10, ["construccion", "comercio"], True)


def test_deactivate_and_activate(marketing, client_for):
    rule = ScoreRuleFactory()
    client = client_for(marketing)
    url = reverse("contacts:score-rule-toggle", args=[rule.pk])
    assert client.post(url, {"active": "0"}).status_code == 302
    rule.refresh_from_db()
    assert not rule.active
    client.post(url, {"active": "1"})
    rule.refresh_from_db()
    assert rule.active


def test_an_unknown_rule_is_404(marketing, client_for):
    client = client_for(marketing)
    assert client.get(reverse("contacts:score-rule-update", args=[999999])).status_code == 404
    assert client.get("/contactos/puntuacion/99999999999999999999/editar/").status_code == 404


def test_recompute_now_queues_the_nightly_job(marketing, client_for):
    response = client_for(marketing).post(RECOMPUTE, follow=True)
    assert "Recálculo en cola" in response.text
    task = QueuedTask.objects.get()
    assert (task.name, task.args) == ("campaigns.contacts_score_nightly", ["reglas"])


def test_the_rules_list_query_count_is_constant(
    marketing, client_for, django_assert_max_num_queries
):
    for i in range(60):
        ScoreRuleFactory(created_by=marketing) if i % 2 else ScoreRuleFactory()
        ScoreRuleFactory.behaviour(active=bool(i % 3))
    client = client_for(marketing)
    with django_assert_max_num_queries(8):
        assert client.get(LIST).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(LIST, {"page": 2}).status_code == 200


def test_the_sheet_says_why_the_contact_has_its_score(
    rep, marketing, client_for, django_assert_max_num_queries
):
    contact = ContactFactory(owner=rep, lead_score=42)
    now = timezone.now()
    for i, score in enumerate([10, 30, 42]):
        ScoreChange.objects.create(
            contact=contact,
            at=now.replace(microsecond=i),
            old_score=score - 5,
            new_score=score,
            reason="evento",
            breakdown=[
                {"rule": 1, "name": "Sector construcción", "points": 20.0},
                {"rule": 2, "name": "Clic en un correo", "points": 22.4},
            ],
        )
    client = client_for(rep)
    with django_assert_max_num_queries(12):
        response = client.get(contact.get_absolute_url())
    assert response.status_code == 200
    assert "¿Por qué?" in response.text
    assert "Sector construcción" in response.text and "+22,4" in response.text
    assert "37 → 42" in response.text
    assert reverse("contacts:score-rule-list") not in response.text  # a rep manages no rules
    assert (
        reverse("contacts:score-rule-list")
        in client_for(marketing).get(contact.get_absolute_url()).text
    )


def test_a_score_typed_by_hand_says_so(rep, client_for):
    contact = ContactFactory(owner=rep, lead_score=42)
    response = client_for(rep).get(contact.get_absolute_url())
    assert "no la calcularon las reglas" in response.text
