"""The API's rows as its lists draw them (crm.core.api.drf.QuickRowsMixin, contacts.selectors.
contact_api_list): the same answer as DRF's own serializer and as the record's own page, for
every kind of field and value, in a fixed number of queries."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import models
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory
from contacts.models import Consent, Contact
from contacts.services import consent_record
from contacts.tests.factories import ContactFactory
from crm.core.api.drf import QuickRowsMixin
from crm.core.api.tokens import SCOPES, token_create

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    _token, key = token_create(user=user, name="Tienda en línea", scopes=SCOPES, days=90)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def contacts(rep):
    """One contact of each kind a row can be: tags or none, no account, each consent state,
    archived, a birthday, a time zone, empty texts."""
    tagged = ContactFactory(owner=rep, first_name="Ana", birthday=datetime.date(1990, 2, 28))
    tagged.tags.set(["vip", "Zapata", "expo 2026"])
    bare = ContactFactory(owner=rep, account=None, first_name="Beto", job_title="", city="")
    granted = ContactFactory(owner=rep, first_name="Carla", time_zone="Europe/Madrid")
    withdrawn = ContactFactory(owner=rep, first_name="Dario")
    for contact, actions in ((granted, ["grant"]), (withdrawn, ["grant", "withdraw"])):
        for action in actions:
            consent_record(
                contact=contact,
                action=action,
                channel=Consent.Channel.EMAIL,
                source=Consent.Source.STAFF,
                actor=rep,
            )
    archived = ContactFactory(owner=rep, first_name="Elena", archived_at=timezone.now())
    return [tagged, bare, granted, withdrawn, archived]


def test_each_row_of_the_list_is_the_records_own_answer(rep, contacts):
    """The list reads tags and consent from its own query and the fields directly; the record's
    page reads them through DRF and the prefetch: the same JSON, field by field."""
    client = api(rep)
    url = reverse("api:contact-list")
    rows = client.get(url, {"page_size": 50}).json()["results"]
    rows += client.get(url, {"page_size": 50, "archived": "1"}).json()["results"]
    assert len(rows) == len(contacts)
    for row in rows:
        own = client.get(reverse("api:contact-detail", args=[row["id"]])).json()
        assert row == own
    by_name = {row["first_name"]: row for row in rows}
    assert by_name["Ana"]["tags"] == ["Zapata", "expo 2026", "vip"]
    assert by_name["Ana"]["birthday"] == "1990-02-28"
    assert by_name["Beto"]["account"] is None and by_name["Beto"]["tags"] == []
    assert [by_name[name]["email_consent"] for name in ("Beto", "Carla", "Dario")] == [
        None,
        "grant",
        "withdraw",
    ]
    assert by_name["Carla"]["time_zone"] == "Europe/Madrid"
    assert by_name["Elena"]["archived_at"] is not None and by_name["Ana"]["archived_at"] is None


def test_sparse_fields_keep_the_same_values(rep, contacts):
    client = api(rep)
    url = reverse("api:contact-list")
    full = {row["id"]: row for row in client.get(url).json()["results"]}
    sparse = client.get(url, {"fields": "id,tags,owner,email_consent,updated_at"}).json()
    for row in sparse["results"]:
        assert row == {name: full[row["id"]][name] for name in row}
        assert set(row) == {"id", "tags", "owner", "email_consent", "updated_at"}


def test_a_page_of_contacts_costs_the_same_queries_with_many_tags_and_consents(
    rep, django_assert_num_queries
):
    """The token, its use and the page: the tags and the consent are in the page's query."""
    client = api(rep)
    url = reverse("api:contact-list")
    client.get(url)  # the key's first use is written once
    ContactFactory(owner=rep)
    with django_assert_num_queries(2):
        assert client.get(url).status_code == 200
    for index in range(60):
        contact = ContactFactory(owner=rep, first_name=f"P{index}")
        contact.tags.set([f"t{index}", "todos"])
        consent_record(
            contact=contact,
            action="grant",
            channel=Consent.Channel.EMAIL,
            source=Consent.Source.STAFF,
            actor=rep,
        )
    with django_assert_num_queries(2):
        page = client.get(url, {"page_size": 50}).json()
    assert len(page["results"]) == 50
    assert all(row["email_consent"] == "grant" for row in page["results"])
    assert all("todos" in row["tags"] for row in page["results"])


def test_each_account_of_the_list_is_the_records_own_answer(rep, django_assert_num_queries):
    tagged = AccountFactory(owner=rep, name="Grupo Torres", tier="A")
    tagged.tags.set(["distribuidor", "Norte"])
    AccountFactory(owner=rep, name="Sin etiquetas", city="", phone="")
    client = api(rep)
    url = reverse("api:account-list")
    client.get(url)  # the key's first use is written once
    with django_assert_num_queries(2):
        rows = client.get(url).json()["results"]
    assert len(rows) == 2
    for row in rows:
        assert row == client.get(reverse("api:account-detail", args=[row["id"]])).json()
    assert {row["name"]: row["tags"] for row in rows} == {
        "Grupo Torres": ["Norte", "distribuidor"],
        "Sin etiquetas": [],
    }


# --- QuickRowsMixin against DRF's own Serializer.to_representation --------------------------


class Thing:
    """Whatever a serializer may meet: values, None, a method, a property that fails, a
    nested attribute, a missing one."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def shout(self):
        return str(self.name).upper()

    @property
    def broken(self):
        raise AttributeError("broken")


class Inner(serializers.Serializer):
    size = serializers.IntegerField()


class UpperField(serializers.CharField):
    def to_representation(self, value):
        return str(value).upper()


class Kind(models.TextChoices):
    A = "a", "A"
    B = "b", "B"


def thing_fields():
    return {
        "name": serializers.CharField(),
        "count": serializers.IntegerField(),
        "nothing": serializers.CharField(allow_null=True),
        "when": serializers.DateTimeField(),
        "day": serializers.DateField(),
        "price": serializers.DecimalField(max_digits=8, decimal_places=2),
        "shout": serializers.CharField(),
        "loud": serializers.CharField(source="shout"),
        "inner_size": serializers.IntegerField(source="inner.size"),
        "inner": Inner(),
        "kind": serializers.ChoiceField(choices=[("a", "A"), ("b", "B")]),
        "number_kind": serializers.ChoiceField(choices=[(1, "uno"), (2, "dos")], required=False),
        "flag": serializers.BooleanField(required=False),
        "upper": UpperField(required=False),
        "absent": serializers.CharField(required=False),
        "with_default": serializers.CharField(default="x"),
        "broken": serializers.CharField(required=False),
        "nullable_missing": serializers.CharField(allow_null=True, required=True),
        "method": serializers.SerializerMethodField(),
        "secret": serializers.CharField(write_only=True),
    }


class PlainThing(serializers.Serializer):
    locals().update(thing_fields())

    def get_method(self, thing):
        return f"{thing.name}!"


class QuickThing(QuickRowsMixin, serializers.Serializer):
    locals().update(thing_fields())

    def get_method(self, thing):
        return f"{thing.name}!"


@pytest.mark.parametrize(
    "thing",
    [
        Thing(
            name="ana",
            count=3,
            nothing=None,
            when=datetime.datetime(2026, 12, 7, 15, 30, tzinfo=datetime.UTC),
            day=datetime.date(2026, 12, 7),
            price="12.5",
            inner=Thing(size=4),
            kind="b",
            secret="s",
        ),
        Thing(
            name="",
            count=0,
            nothing="algo",
            when=None,
            day=None,
            price=None,
            inner=Thing(size=0),
            kind="",
            absent="presente",
            with_default="dado",
            nullable_missing="está",
        ),
        Thing(  # values of another type than the field's: DRF's own conversion
            name=7,
            count=True,
            nothing=3.5,
            when=None,
            day=None,
            price=None,
            inner=Thing(size=True),
            kind=Kind.B,
            number_kind="2",
            flag="true",
            upper="abc",
        ),
        Thing(
            name="Ñandú",
            count=-2,
            nothing="",
            when=None,
            day=None,
            price=None,
            inner=Thing(size=1),
            kind="c",  # not among the choices: as it is
            number_kind=1,
            flag=False,
            upper="x",
        ),
    ],
    ids=["values", "falsy-and-given", "other-types", "as-they-are"],
)
def test_quick_rows_answer_as_drf_does(thing):
    """Values, falsy values, None, a callable source, a dotted source, a nested serializer,
    a missing attribute (skipped, defaulted or null), a failing property, a method field."""
    plain = PlainThing(thing).data
    assert QuickThing(thing).data == plain
    # The same JSON too, where equal values differ in type (True == 1, Kind.B == "b").
    assert JSONRenderer().render(QuickThing(thing).data) == JSONRenderer().render(plain)
    assert "secret" not in plain and "broken" not in plain
    assert plain["shout"] == plain["loud"] == str(thing.name).upper()


def test_quick_rows_fail_as_drf_does():
    """A required attribute missing on the way of a dotted source: DRF's own error."""
    thing = Thing(name="ana", count=1, nothing=None, when=None, day=None, price=None, kind="a")
    thing.inner = None
    with pytest.raises(AttributeError) as plain:
        PlainThing(thing).data  # noqa: B018
    with pytest.raises(AttributeError) as quick:
        QuickThing(thing).data  # noqa: B018
    assert str(quick.value) == str(plain.value).replace("PlainThing", "QuickThing")


def test_quick_rows_read_a_mapping_as_drf_does():
    row = {"name": "ana", "count": 1, "kind": "a", "inner": {"size": 2}, "nothing": None}

    class Plain(serializers.Serializer):
        name = serializers.CharField()
        count = serializers.IntegerField()
        kind = serializers.ChoiceField(choices=["a"])
        inner = Inner()
        nothing = serializers.CharField(allow_null=True)

    class Quick(QuickRowsMixin, Plain):
        pass

    assert Quick(row).data == Plain(row).data


def test_a_serializers_fields_are_built_once_and_each_serializer_gets_its_own(monkeypatch):
    from contacts.api import ContactSerializer

    ContactSerializer(context={}).fields  # noqa: B018 - built (or already built)
    built = []
    original = serializers.ModelSerializer.build_field
    monkeypatch.setattr(
        serializers.ModelSerializer,
        "build_field",
        lambda self, *args: built.append(args[0]) or original(self, *args),
    )
    first, second = ContactSerializer(context={}), ContactSerializer(context={})
    assert set(first.fields) == set(second.fields)
    assert built == []  # copied from what the class built once, not built again
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second
    first.fields.pop("notes")
    assert "notes" in second.fields and "notes" in ContactSerializer(context={}).fields


def test_a_copied_field_is_its_own_and_its_queryset_is_read_afresh(rep):
    """Fields copied from the class's built ones: a change to one serializer's field stays
    there, and a relation's choices are read again by each serializer (an account made after
    the first request is accepted by the next)."""
    from contacts.api import ContactSerializer

    first = ContactSerializer(context={})
    first.fields["lifecycle"].choices = [("lead", "Lead")]
    first.fields["city"].max_length = 3
    second = ContactSerializer(context={})
    assert len(second.fields["lifecycle"].choices) > 1
    assert second.fields["city"].max_length != 3
    client = api(rep)
    url = reverse("api:contact-list")
    assert client.get(url).status_code == 200
    later = AccountFactory(owner=rep, name="Cuenta nueva")
    made = client.post(
        url, {"first_name": "Ana", "last_name": "Ruiz", "account": later.pk}, format="json"
    )
    assert made.status_code == 201, made.json()
    assert made.json()["account"] == later.pk


class PlainContact(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "account", "owner", "merged_into", "created_at", "archived_at", "email"]


class QuickContact(QuickRowsMixin, PlainContact):
    pass


@pytest.mark.parametrize("zone", ["America/Mexico_City", "Europe/Madrid", "UTC"])
def test_quick_rows_read_relations_by_id_and_times_in_the_active_zone(contacts, zone):
    """Relations answered by the row's own id column (a null one included) and times in the
    request's time zone, as DRF answers them."""
    rows = Contact.objects.filter(pk__in=[contact.pk for contact in contacts]).order_by("pk")
    with timezone.override(zone):
        plain = PlainContact(rows, many=True).data
        quick = QuickContact(rows, many=True).data
    assert quick == plain
    assert any(row["account"] is None for row in quick)
    assert any(row["archived_at"] for row in quick)
    offset = timezone.localtime(contacts[0].created_at, timezone=ZoneInfo(zone)).isoformat()
    assert quick[0]["created_at"] == offset.replace("+00:00", "Z")


# --- TokenRateThrottle: counted in windows, not a list of every request -------------------


@pytest.fixture
def three_a_minute(settings):
    from django.core.cache import cache
    from rest_framework.settings import api_settings

    from crm.core.api.auth import TokenRateThrottle

    cache.clear()
    rates = TokenRateThrottle.THROTTLE_RATES
    TokenRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "api": "3/min"}
    yield
    TokenRateThrottle.THROTTLE_RATES = rates
    cache.clear()


def test_a_key_gets_its_rate_and_a_retry_after(rep, three_a_minute):
    client = api(rep)
    url = reverse("api:account-list")
    start = datetime.datetime(2026, 12, 7, 10, 0, 15, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get(url)
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) == 45  # the rest of this minute
        clock.shift(44)
        assert client.get(url).status_code == 429
        # 10:01:00 + 20 s: the three of the minute before weigh 3 × 40/60 = 2, so one more.
        clock.move_to(start + datetime.timedelta(seconds=65))
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 429
        clock.move_to(start + datetime.timedelta(seconds=125))  # a quiet minute later
        assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_requests_at_the_end_of_a_minute_count_into_the_next(rep, three_a_minute):
    """No burst of twice the rate across the turn of the minute: a counter per minute alone
    would let three more through at 10:01:02."""
    client = api(rep)
    url = reverse("api:account-list")
    late = datetime.datetime(2026, 12, 7, 10, 0, 58, tzinfo=datetime.UTC)
    with time_machine.travel(late, tick=False) as clock:
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
        clock.shift(4)  # 10:01:02: the three weigh 3 × 58/60 = 2.9, room for one
        assert client.get(url).status_code == 200
        refused = client.get(url)
        assert refused.status_code == 429
        # 2.9 + 1 until the weight of the three falls under 2, at 10:01:20 (18 s, rounded up).
        assert int(refused["Retry-After"]) in (18, 19)
        clock.shift(int(refused["Retry-After"]))  # as a client told to wait does
        assert client.get(url).status_code == 200


def test_each_key_and_each_request_is_counted(rep, three_a_minute):
    """Two keys, two allowances; and every request counts, whichever worker served it (the
    counter is added to, never written back whole)."""
    from django.core.cache import cache

    from crm.core.models import ApiToken

    first, second = api(rep), api(rep)
    url = reverse("api:account-list")
    now = datetime.datetime(2026, 12, 7, 10, 0, 5, tzinfo=datetime.UTC)
    with time_machine.travel(now):
        assert [first.get(url).status_code for _ in range(2)] == [200, 200]
        assert [second.get(url).status_code for _ in range(3)] == [200, 200, 200]
        assert first.get(url).status_code == 200
        assert first.get(url).status_code == 429  # refused, so not counted
        minute = int(now.timestamp() // 60)
        keys = [f"throttle_api_token-{token.pk}:{minute}" for token in ApiToken.objects.all()]
        assert sorted(cache.get(key) for key in keys) == [3, 3]


# --- What a list request builds (ListFilterForm.filters_from, selectors._kept_api_rows) --------


def _filter_forms() -> list[type]:
    from accounts.forms import AccountFilterForm
    from contacts.forms import ContactFilterForm
    from crm.core.forms_utils import ListFilterForm
    from opportunities.forms.pipeline import OpportunityFilterForm

    found, todo = set(), [ListFilterForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.split(".")[-2:-1] != ["tests"] and sub not in found:
                found.add(sub)
                todo.append(sub)
    # Every filter bar of the application is found (a new one joins these tests by itself).
    assert {AccountFilterForm, ContactFilterForm, OpportunityFilterForm} <= found
    return sorted(found, key=lambda form: form.__name__)


@pytest.mark.parametrize("form_class", _filter_forms(), ids=lambda form: form.__name__)
def test_a_list_asked_with_none_of_its_filters_is_not_filtered_without_building_the_form(
    form_class, rep
):
    from django.http import QueryDict

    paging = QueryDict("cursor=cD0xMjM%3D&page_size=20&ordering=-id&fields=id,name")
    assert form_class.filters_from(paging) == {} == form_class(paging).filters()
    assert form_class.filters_from(QueryDict("")) == {} == form_class.filters_from(None)
    # The shortcut looks at the class's fields: no form adds one of its own when built.
    assert set(form_class(paging).fields) <= set(form_class.base_fields)
    # A filter asked for builds the form, with its cleaning: the same as the page's.
    for query in ("q=Ana&cursor=x", "archived=on", "mine=1&sort=-updated", "owner=999999"):
        data = QueryDict(query)
        assert form_class.filters_from(data) == form_class(data).filters(), query
    assert form_class.filters_from(QueryDict("q=Ana&cursor=x")) == {"q": "Ana"}


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"q": "perez"},
        {"q": "5512"},
        {"tags": ["vip"]},
        {"consent": "grant"},
        {"consent": "none"},
        {"lifecycle": ["lead", "customer"], "sort": "-score"},
        {"mine": True, "archived": True},
        {"sort": "account", "city": "Puebla", "min_score": 10},
    ],
)
def test_the_api_list_is_the_filtered_list_with_its_two_columns(filters, rep):
    """The kept query (subqueries added once per process) filtered per request is the same
    SQL as the subqueries added to the filtered list on each request, and reads the same."""
    from contacts import selectors
    from crm.core.search_query import tag_names

    tagged = ContactFactory(owner=rep, last_name="Pérez", city="Puebla", lead_score=40)
    tagged.tags.set(["vip"])
    consent_record(
        contact=tagged, action=Consent.Action.GRANT, source=Consent.Source.STAFF, actor=rep
    )
    ContactFactory(owner=rep, last_name="Pérez", mobile="+52 55 1234 5678")
    each_request = (
        selectors.contact_filtered(user=rep, filters=filters)
        .annotate(email_consent=selectors.latest_consent_action(), tag_names=tag_names(Contact))
        .values_list(*selectors.API_ROW_FIELDS, "email_consent", "tag_names", named=True)
    )
    kept = selectors.contact_api_list(user=rep, filters=filters)
    assert str(kept.query) == str(each_request.query)
    assert list(kept) == list(each_request)


def test_the_api_list_query_is_built_once_and_reads_the_rows_as_they_are_now(rep):
    from contacts import selectors

    selectors._kept_api_rows.cache_clear()
    contact = ContactFactory(owner=rep)
    assert [c.tag_names for c in selectors.contact_api_list(user=rep)] == [[]]
    contact.tags.set(["nuevo"])
    consent_record(
        contact=contact, action=Consent.Action.GRANT, source=Consent.Source.STAFF, actor=rep
    )
    (row,) = selectors.contact_api_list(user=rep)
    assert (row.tag_names, row.email_consent) == (["nuevo"], Consent.Action.GRANT)
    info = selectors._kept_api_rows.cache_info()
    assert (info.misses, info.hits) == (1, 1)
