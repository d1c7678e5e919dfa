"""The segment compiler against hand-computed sets: every field and operator, AND/OR groups,
and the validation that keeps anything else out."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from campaigns.models import Send, TrackingEvent
from campaigns.seed import SEGMENTS
from campaigns.segments import (
    FIELDS,
    InvalidDefinition,
    compile_definition,
    segment_queryset,
    validate_definition,
)
from campaigns.tests.factories import (
    SegmentFactory,
    SendFactory,
    TopicFactory,
    TrackingEventFactory,
)
from contacts.models import Consent
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.tests.factories import TeamFactory, UserFactory
from opportunities.tests.factories import OpportunityFactory, stage
from support.models import Ticket
from support.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def one(field, op, value=None) -> dict:
    return {"match": "all", "groups": [{"match": "all", "conditions": [cond(field, op, value)]}]}


def cond(field, op, value=None) -> dict:
    return {"field": field, "op": op, "value": value}


def ids(definition) -> set[int]:
    segment = SegmentFactory(definition=definition)
    return set(segment_queryset(segment).values_list("pk", flat=True))


@pytest.fixture
def people():
    """Four contacts differing in every plain field (a: lead, b: mql, c: sql, d: cliente)."""
    a_acc = AccountFactory(
        tier_auto="A", industry="manufactura", size="grande", relationship="cliente"
    )
    b_acc = AccountFactory(
        tier_auto="B", industry="construccion", size="mediano", relationship="distribuidor"
    )
    c_acc = AccountFactory(tier_auto="C", industry="salud", size="pequeno", relationship="socio")
    return {
        "a": ContactFactory(
            account=a_acc,
            lifecycle="lead",
            lead_source="web",
            lead_score=10,
            country="MX",
            city="Querétaro",
            region="Querétaro",
            birthday=date(1980, 3, 4),
        ),
        "b": ContactFactory(
            account=b_acc,
            lifecycle="mql",
            lead_source="evento",
            lead_score=60,
            country="MX",
            city="León",
            region="Guanajuato",
            birthday=date(1985, 7, 1),
        ),
        "c": ContactFactory(
            account=c_acc,
            lifecycle="sql",
            lead_source="referido",
            lead_score=80,
            country="ES",
            city="San Sebastián",
            region="Guipúzcoa",
        ),
        "d": ContactFactory(
            account=None,
            lifecycle="cliente",
            lead_source="web",
            lead_score=100,
            country="ES",
            city="Madrid",
            region="Madrid",
            birthday=date(1990, 3, 30),
        ),
    }


def pks(people, *names) -> set[int]:
    return {people[n].pk for n in names}


def test_no_groups_is_every_live_contact(people):
    people["d"].archived_at = timezone.now()
    people["d"].save()
    assert ids({"match": "all", "groups": []}) == pks(people, "a", "b", "c")


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("lifecycle", "in", ["mql", "sql"], "bc"),
        ("lifecycle", "not_in", ["lead"], "bcd"),
        ("lead_source", "in", ["web"], "ad"),
        ("lead_source", "not_in", ["web", "evento"], "c"),
        ("lead_score", "between", [60, 80], "bc"),
        ("lead_score", "gte", 80, "cd"),
        ("lead_score", "lte", 60, "ab"),
        ("tier", "in", ["A", "B"], "ab"),
        ("tier", "not_in", ["A"], "bcd"),  # d has no account: not in any tier
        ("industry", "in", ["manufactura", "construccion"], "ab"),
        ("industry", "not_in", ["salud"], "abd"),
        ("size", "in", ["pequeno"], "c"),
        ("size", "not_in", ["grande", "mediano"], "cd"),
        ("relationship", "in", ["distribuidor", "socio"], "bc"),
        ("relationship", "not_in", ["cliente"], "bcd"),
        ("country", "in", ["ES"], "cd"),
        ("country", "not_in", ["ES"], "ab"),
        ("city", "eq", "queretaro", "a"),
        ("city", "eq", "LEÓN", "b"),
        ("city", "contains", "sebas", "c"),
        ("region", "eq", "madrid", "d"),
        ("region", "contains", "guan", "b"),
        ("region", "contains", "RÉTA", "a"),
        ("birthday_month", "in", [3], "ad"),
        ("birthday_month", "in", [7, 12], "b"),
    ],
)
def test_plain_fields(people, field, op, value, expected):
    assert ids(one(field, op, value)) == pks(people, *expected)


def test_tags_any_all_none(people):
    people["a"].tags.set(["VIP", "feria"])
    people["b"].tags.set(["vip"])
    people["c"].tags.set(["Feria"])
    assert ids(one("tags", "any", ["vip"])) == pks(people, "a", "b")
    assert ids(one("tags", "any", ["FERIA", "nada"])) == pks(people, "a", "c")
    assert ids(one("tags", "all", ["vip", "feria"])) == pks(people, "a")
    assert ids(one("tags", "none", ["vip"])) == pks(people, "c", "d")


def test_owner_and_team(people):
    team = TeamFactory(name="Equipo Sur")
    seller = UserFactory(team=team)
    for name in "ab":
        people[name].owner = seller
        people[name].save()
    assert ids(one("owner", "in", [seller.pk])) == pks(people, "a", "b")
    assert ids(one("owner", "in", [people["c"].owner_id])) == pks(people, "c")
    assert ids(one("team", "in", [team.pk])) == pks(people, "a", "b")


def test_created_between_and_last_days(people):
    now = timezone.now()
    for name, days in (("a", 400), ("b", 40), ("c", 5)):
        people[name].__class__.objects.filter(pk=people[name].pk).update(
            created_at=now - timedelta(days=days)
        )
    today = timezone.localdate()
    assert ids(one("created", "last_days", 30)) == pks(people, "c", "d")
    since = (today - timedelta(days=41)).isoformat()
    until = (today - timedelta(days=39)).isoformat()
    assert ids(one("created", "between", [since, until])) == pks(people, "b")
    assert ids(one("created", "between", [None, until])) == pks(people, "a", "b")


def test_last_contacted(people):
    now = timezone.now()
    model = people["a"].__class__
    model.objects.filter(pk=people["a"].pk).update(last_contacted_at=now - timedelta(days=3))
    model.objects.filter(pk=people["b"].pk).update(last_contacted_at=now - timedelta(days=90))
    today = timezone.localdate()
    assert ids(one("last_contacted", "last_days", 30)) == pks(people, "a")
    assert ids(one("last_contacted", "not_in_last_days", 30)) == pks(people, "b", "c", "d")
    assert ids(one("last_contacted", "never")) == pks(people, "c", "d")
    window = [(today - timedelta(days=100)).isoformat(), (today - timedelta(days=80)).isoformat()]
    assert ids(one("last_contacted", "between", window)) == pks(people, "b")


def test_consent_per_channel_and_topic(people):
    topic = TopicFactory(name="Ofertas")
    ConsentFactory(contact=people["a"])
    ConsentFactory(contact=people["b"])
    ConsentFactory(contact=people["b"], action=Consent.Action.WITHDRAW)
    ConsentFactory(contact=people["c"], topic=topic, action=Consent.Action.WITHDRAW)
    ConsentFactory(contact=people["d"], channel=Consent.Channel.SMS)
    email = Consent.Channel.EMAIL

    def consent(state, topic_id=None, channel=email):
        return one("consent", "is", {"channel": channel, "topic": topic_id, "state": state})

    assert ids(consent("granted")) == pks(people, "a")
    assert ids(consent("withdrawn")) == pks(people, "b")
    assert ids(consent("none")) == pks(people, "c", "d")
    assert ids(consent("withdrawn", topic.pk)) == pks(people, "c")
    assert ids(consent("none", topic.pk)) == pks(people, "a", "b", "d")
    assert ids(consent("granted", channel=Consent.Channel.SMS)) == pks(people, "d")


def test_engagement(people):
    now = timezone.now()
    old = SendFactory(contact=people["a"], sent_at=now - timedelta(days=100))
    recent = SendFactory(contact=people["b"], sent_at=now - timedelta(days=2))
    SendFactory(contact=people["c"], sent_at=now - timedelta(days=1), status=Send.Status.FAILED)
    TrackingEventFactory(send=old, at=now - timedelta(days=99))
    TrackingEventFactory(send=old, kind=TrackingEvent.Kind.CLICK, at=now - timedelta(days=99))
    TrackingEventFactory(send=recent, at=now - timedelta(days=1))
    # A privacy proxy's open is not a person's.
    proxy = SendFactory(contact=people["d"], sent_at=now - timedelta(days=1))
    TrackingEventFactory(send=proxy, at=now - timedelta(days=1), is_machine=True)

    assert ids(one("opened", "in_last_days", 30)) == pks(people, "b")
    assert ids(one("opened", "not_in_last_days", 30)) == pks(people, "a", "c", "d")
    assert ids(one("opened", "never")) == pks(people, "c", "d")
    assert ids(one("clicked", "in_last_days", 365)) == pks(people, "a")
    assert ids(one("clicked", "never")) == pks(people, "b", "c", "d")
    assert ids(one("emailed", "in_last_days", 7)) == pks(people, "b", "d")
    assert ids(one("emailed", "not_in_last_days", 7)) == pks(people, "a", "c")


def test_opportunities_own_or_account(people):
    now = timezone.now()
    OpportunityFactory(account=people["a"].account)  # open, at a's account
    OpportunityFactory(account=AccountFactory(), contact=people["d"])  # open, d's own
    won = stage("Ganada")
    OpportunityFactory(account=people["b"].account, stage=won, closed_at=now - timedelta(days=40))
    OpportunityFactory(account=people["c"].account, stage=won, closed_at=now - timedelta(days=400))
    assert ids(one("open_opportunities", "exists")) == pks(people, "a", "d")
    assert ids(one("open_opportunities", "not_exists")) == pks(people, "b", "c")
    assert ids(one("won_opportunity", "in_last_months", 3)) == pks(people, "b")
    assert ids(one("won_opportunity", "in_last_months", 24)) == pks(people, "b", "c")


def test_open_tickets(people):
    TicketFactory(account=people["a"].account, contact=people["a"])
    TicketFactory(account=people["b"].account, contact=people["b"], status=Ticket.Status.RESOLVED)
    TicketFactory(account=people["c"].account, contact=None)  # the account's
    assert ids(one("open_tickets", "exists")) == pks(people, "a", "c")
    assert ids(one("open_tickets", "not_exists")) == pks(people, "b", "d")


def test_and_or_groups(people):
    # (lifecycle mql OR score ≥ 80) AND (country MX): b only.
    definition = {
        "match": "all",
        "groups": [
            {
                "match": "any",
                "conditions": [
                    cond("lifecycle", "in", ["mql"]),
                    cond("lead_score", "gte", 80),
                ],
            },
            {"match": "all", "conditions": [cond("country", "in", ["MX"])]},
        ],
    }
    assert ids(definition) == pks(people, "b")
    definition["match"] = "any"  # (mql OR ≥80) OR MX: a, b, c, d
    assert ids(definition) == pks(people, "a", "b", "c", "d")
    # Inside a group, all: tier A and lead: a; any group of (tier C) or (ES and ≥ 100): c, d.
    assert ids(
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [cond("tier", "in", ["A"]), cond("lifecycle", "in", ["lead"])],
                }
            ],
        }
    ) == pks(people, "a")
    assert ids(
        {
            "match": "any",
            "groups": [
                {"match": "all", "conditions": [cond("tier", "in", ["C"])]},
                {
                    "match": "all",
                    "conditions": [cond("country", "in", ["ES"]), cond("lead_score", "gte", 100)],
                },
            ],
        }
    ) == pks(people, "c", "d")


def test_static_segment_is_its_members(people):
    segment = SegmentFactory(kind="estatico", definition={})
    segment.memberships.create(contact=people["a"])
    segment.memberships.create(contact=people["c"])
    assert set(segment_queryset(segment).values_list("pk", flat=True)) == pks(people, "a", "c")


# --- Validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("nada", "no es válida"),
        ({"match": "todos", "groups": []}, "combinar los grupos"),
        ({"match": "all", "groups": {}}, "grupos del segmento"),
        ({"match": "all", "groups": [{"match": "all", "conditions": []}]}, "está vacío"),
        (one("password", "in", ["x"]), "el campo «password» no existe"),
        (one("lifecycle__in", "in", ["x"]), "no existe"),
        (one("lifecycle", "exact", ["mql"]), "operador «exact»"),
        (one("lifecycle", "in", "mql"), "al menos un valor"),
        (one("lifecycle", "in", []), "al menos un valor"),
        (one("lifecycle", "in", ["jefe"]), "valor que no existe"),
        (one("tier", "in", [["A"]]), "valor que no existe"),
        (one("owner", "in", ["1"]), "deben ser números"),
        (one("owner", "in", [True]), "deben ser números"),
        (one("birthday_month", "in", [13]), "valor que no existe"),
        (one("lead_score", "gte", "50"), "número de 0 a 100"),
        (one("lead_score", "gte", 101), "número de 0 a 100"),
        (one("lead_score", "between", [70, 20]), "mínimo es mayor"),
        (one("lead_score", "between", [1]), "dos números"),
        (one("city", "eq", ""), "escribe un texto"),
        (one("city", "contains", 5), "escribe un texto"),
        (one("created", "between", [None, None]), "al menos una fecha"),
        (one("created", "between", ["2026-02-30", None]), "no es válida"),
        (one("created", "between", ["2026-03-01", "2026-02-01"]), "posterior"),
        (one("created", "last_days", 0), "entre 1 y"),
        (one("opened", "in_last_days", "7"), "entre 1 y"),
        (one("won_opportunity", "in_last_months", 500), "meses"),
        (one("tags", "any", []), "al menos una etiqueta"),
        (one("tags", "any", [" "]), "al menos una etiqueta"),
        (one("consent", "is", "email"), "canal, tema y estado"),
        (one("consent", "is", {"channel": "fax", "topic": None, "state": "granted"}), "canal"),
        (one("consent", "is", {"channel": "email", "topic": "x", "state": "granted"}), "tema"),
        (one("consent", "is", {"channel": "email", "topic": None, "state": "sí"}), "estado"),
    ],
)
def test_validation_errors(definition, message):
    errors = validate_definition(definition)
    assert errors
    assert any(message in error for error in errors), errors
    with pytest.raises(InvalidDefinition):
        compile_definition(definition)


def test_every_field_op_has_a_valid_example():
    """The allow-list and the compiler agree: each (field, op) compiles from a valid value."""
    examples = {
        "choices": lambda spec: [spec.choices()[0][0]],
        "int_choices": lambda spec: [spec.choices()[0][0]] if spec.choices else [1],
        "text": lambda spec: "León",
        "int": lambda spec: 50,
        "int_range": lambda spec: [10, 20],
        "date_range": lambda spec: ["2026-01-01", None],
        "days": lambda spec: 30,
        "months": lambda spec: 6,
        "tags": lambda spec: ["vip"],
        "consent": lambda spec: {"channel": "email", "topic": None, "state": "granted"},
        "none": lambda spec: None,
    }
    for name, spec in FIELDS.items():
        for op, kind in spec.ops.items():
            definition = one(name, op, examples[kind](spec))
            assert validate_definition(definition) == [], (name, op)
            compile_definition(definition)


def test_demo_segments_validate():
    for _name, _text, definition in SEGMENTS:
        assert validate_definition(definition) == []
