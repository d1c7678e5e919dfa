"""Segment pages: the builder with and without JavaScript, its live count, detail, archive,
static lists from the contact list, and 403 for the roles that do not build segments."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from campaigns.models import Segment, SegmentMember
from campaigns.selectors import segments as selectors
from campaigns.tests.factories import SegmentFactory, consenting_contact
from contacts.tests.factories import ContactFactory
from crm.core.formats import grouped_integer_formatter

pytestmark = pytest.mark.django_db

LIST = reverse("campaigns:segment-list")
CREATE = reverse("campaigns:segment-create")
PREVIEW = reverse("campaigns:segment-preview")
ADD = reverse("campaigns:segment-add-contacts")
HTMX = {"HX-Request": "true"}
MQL = {
    "match": "all",
    "groups": [
        {"match": "all", "conditions": [{"field": "lifecycle", "op": "in", "value": ["mql"]}]}
    ],
}


def builder_post(**extra) -> dict:
    data = {
        "name": "Leads MQL",
        "description": "",
        "kind": "dinamico",
        "match": "all",
        "g0-match": "all",
        "g0-c0-field": "lifecycle",
        "g0-c0-shown": "lifecycle",
        "g0-c0-op": "in",
        "g0-c0-value": ["mql"],
    }
    data.update(extra)
    return data


def test_urls_are_under_campanas():
    assert LIST == "/campanas/segmentos/"
    assert CREATE == "/campanas/segmentos/nuevo/"
    assert reverse("campaigns:segment-detail", args=[7]) == "/campanas/segmentos/7/"


@pytest.mark.parametrize("role", ["rep", "manager", "support"])
def test_other_roles_get_403_everywhere(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    segment = SegmentFactory()
    pk = [segment.pk]
    for url in (
        LIST,
        CREATE,
        reverse("campaigns:segment-detail", args=pk),
        reverse("campaigns:segment-edit", args=pk),
        reverse("campaigns:segment-archive", args=pk),
        reverse("campaigns:segment-count", args=pk),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(PREVIEW, builder_post()).status_code == 403
    assert client.post(ADD, {"contacts": [1]}).status_code == 403
    assert client.post(CREATE, builder_post(action="save")).status_code == 403
    remove = reverse("campaigns:segment-remove-contact", args=pk)
    assert client.post(remove, {"contact": 1}).status_code == 403
    assert not Segment.objects.exclude(pk=segment.pk).exists()


def test_list_and_lazy_count(client_for, marketing):
    consenting_contact(lifecycle="mql")
    ContactFactory(lifecycle="mql")
    dynamic = SegmentFactory(name="Leads", definition=MQL)
    static = SegmentFactory(name="Feria", kind="estatico", definition={})
    static.memberships.create(contact=ContactFactory())
    client = client_for(marketing)
    response = client.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Leads" in body and "Feria" in body
    assert "1 miembro" in body
    assert reverse("campaigns:segment-count", args=[dynamic.pk]) in body
    count = client.get(reverse("campaigns:segment-count", args=[dynamic.pk]), headers=HTMX)
    assert "2 · 1 con consentimiento" in count.content.decode()


def test_list_queries_constant(client_for, marketing, django_assert_max_num_queries):
    for n in range(30):
        segment = SegmentFactory(name=f"S{n}", kind="estatico" if n % 2 else "dinamico")
        if n % 2:
            segment.memberships.create(contact=ContactFactory())
    client = client_for(marketing)
    with django_assert_max_num_queries(12):
        assert client.get(LIST).status_code == 200


def test_builder_get(client_for, admin_user):
    response = client_for(admin_user).get(CREATE)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="g0-c0-field"' in body
    assert "Añadir condición" in body and "Añadir grupo" in body and "Actualizar recuento" in body


def test_save_creates_the_segment(client_for, marketing):
    response = client_for(marketing).post(CREATE, builder_post(action="save"))
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == segment.get_absolute_url()
    assert segment.definition == MQL
    assert segment.created_by == marketing


def test_save_with_a_bad_value_shows_it_and_saves_nothing(client_for, marketing):
    response = client_for(marketing).post(
        CREATE,
        builder_post(
            action="save",
            **{"g0-c0-field": "lead_score", "g0-c0-shown": "lead_score", "g0-c0-op": "gte"},
            **{"g0-c0-value": "mucho"},
        ),
    )
    assert response.status_code == 422
    assert "número de 0 a 100" in response.content.decode()
    assert not Segment.objects.exists()


def test_tampered_field_is_never_a_lookup(client_for, marketing):
    response = client_for(marketing).post(
        CREATE,
        builder_post(action="save", **{"g0-c0-field": "email__startswith", "g0-c0-shown": "x"}),
    )
    # An unknown field is replaced by the default one (and its value must then be chosen).
    assert response.status_code == 422
    assert not Segment.objects.exists()


def test_no_js_buttons_rebuild_the_form(client_for, marketing):
    client = client_for(marketing)
    added = client.post(CREATE, builder_post(action="add-condition-0"))
    assert added.status_code == 200
    assert 'name="g0-c1-field"' in added.content.decode()
    grouped = client.post(CREATE, builder_post(action="add-group"))
    assert 'name="g1-c0-field"' in grouped.content.decode()
    removed = client.post(
        CREATE,
        builder_post(
            action="remove-condition-0-0",
            **{"g0-c1-field": "country", "g0-c1-shown": "country", "g0-c1-op": "in"},
            **{"g0-c1-value": ["ES"]},
        ),
    )
    body = removed.content.decode()
    assert 'name="g0-c1-field"' not in body
    assert 'value="country" selected' in body
    assert not Segment.objects.exists()


def test_refresh_shows_count_and_sample(client_for, marketing):
    consenting_contact(lifecycle="mql", first_name="Ana", last_name="Zúñiga")
    ContactFactory(lifecycle="mql")
    ContactFactory(lifecycle="lead")
    response = client_for(marketing).post(CREATE, builder_post(action="refresh"))
    body = response.content.decode()
    assert "2 contactos, 1 con consentimiento" in body
    assert "Ana Zúñiga" in body


def test_changing_the_field_resets_operator_and_value(client_for, marketing):
    response = client_for(marketing).post(
        CREATE,
        builder_post(action="rerender", **{"g0-c0-field": "lead_score"}),
        headers=HTMX,
    )
    body = response.content.decode()
    assert response["HX-Trigger"] == "segment-changed"
    assert "<form" not in body  # the builder fragment only
    assert 'value="between" selected' in body
    assert 'name="g0-c0-value2"' in body


def test_htmx_preview_in_the_locale_number_format(client_for, marketing, monkeypatch):
    """Grouped as the project's formats helper groups them for the active language (Django's
    "es" groups thousands with a non-breaking space; "3.214" where a locale uses dots)."""
    monkeypatch.setattr(selectors, "segment_counts", lambda **kwargs: (3214, 2877))
    response = client_for(marketing).post(PREVIEW, builder_post(), headers=HTMX)
    assert response.status_code == 200
    with translation.override("es"):
        fmt = grouped_integer_formatter()
        expected = f"{fmt(3214)} contactos, {fmt(2877)} con consentimiento"
    assert expected in response.content.decode()
    assert fmt(3214) != "3214"


def test_preview_of_an_incomplete_definition(client_for, marketing):
    response = client_for(marketing).post(PREVIEW, builder_post(**{"g0-c0-value": []}))
    assert "Completa o corrige" in response.content.decode()


def test_detail_in_words_and_edit(client_for, marketing):
    segment = SegmentFactory(name="Leads", definition=MQL)
    client = client_for(marketing)
    detail = client.get(segment.get_absolute_url())
    assert detail.status_code == 200
    assert "Etapa del contacto es alguno de: MQL" in detail.content.decode()
    edit_url = reverse("campaigns:segment-edit", args=[segment.pk])
    form = client.get(edit_url)
    assert 'value="mql" selected' in form.content.decode()
    saved = client.post(
        edit_url, builder_post(action="save", name="Leads SQL", **{"g0-c0-value": ["sql"]})
    )
    assert saved.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Leads SQL"
    assert segment.definition["groups"][0]["conditions"][0]["value"] == ["sql"]


def test_archive(client_for, marketing):
    segment = SegmentFactory()
    client = client_for(marketing)
    url = reverse("campaigns:segment-archive", args=[segment.pk])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    segment.refresh_from_db()
    assert segment.archived_at is not None
    edit = client.get(reverse("campaigns:segment-edit", args=[segment.pk]))
    assert edit.status_code == 302


def test_missing_segment_is_404(client_for, marketing):
    assert (
        client_for(marketing).get(reverse("campaigns:segment-detail", args=[999])).status_code
        == 404
    )


def test_add_from_contact_list_to_a_new_list(client_for, marketing):
    a, b = ContactFactory(), ContactFactory()
    client = client_for(marketing)
    chooser = client.post(ADD, {"contacts": [a.pk, b.pk]})
    assert chooser.status_code == 200
    assert "2 contactos seleccionados" in chooser.content.decode()
    done = client.post(ADD, {"contacts": [a.pk, b.pk], "new_name": "Feria 2027"})
    segment = Segment.objects.get(name="Feria 2027")
    assert done.status_code == 302
    assert segment.is_static
    assert set(segment.memberships.values_list("contact_id", flat=True)) == {a.pk, b.pk}


def test_add_to_an_existing_list_and_remove(client_for, marketing):
    segment = SegmentFactory(kind="estatico", definition={})
    a = ContactFactory()
    client = client_for(marketing)
    client.post(ADD, {"contacts": [a.pk], "segment": segment.pk})
    client.post(ADD, {"contacts": [a.pk], "segment": segment.pk})
    assert SegmentMember.objects.filter(segment=segment).count() == 1
    detail = client.get(segment.get_absolute_url())
    assert a.full_name in detail.content.decode()
    remove = reverse("campaigns:segment-remove-contact", args=[segment.pk])
    assert client.post(remove, {"contact": a.pk}).status_code == 302
    assert not SegmentMember.objects.exists()
    assert client.post(remove, {"contact": "x"}).status_code == 302
    assert client.post(remove, {"contact": "²"}).status_code == 302  # isdigit(), yet no int


def test_add_without_a_selection_or_to_a_dynamic_segment(client_for, marketing):
    client = client_for(marketing)
    nothing = client.post(ADD, {"new_name": "Vacía"})
    assert nothing.status_code in (302, 422)
    dynamic = SegmentFactory()
    refused = client.post(ADD, {"contacts": [ContactFactory().pk], "segment": dynamic.pk})
    assert refused.status_code == 422  # not a choice: only static lists are offered
    assert not SegmentMember.objects.exists()
    assert not Segment.objects.filter(name="Vacía").exists()


@pytest.mark.parametrize("chosen", ["9" * 40, "-1", "0"])
def test_adding_ids_no_contact_can_have_to_a_new_list_creates_no_list(
    client_for, marketing, chosen
):
    """The list is created only with its contacts: refused ids (past any database integer,
    negative) leave no empty list behind, and answer the form again, not a 500."""
    client = client_for(marketing)
    response = client.post(ADD, {"contacts": [chosen], "new_name": "Feria 2027"})
    assert response.status_code == 422
    assert "no es válida" in response.content.decode()
    assert not Segment.objects.filter(name="Feria 2027").exists()


def test_static_members_page_queries(client_for, marketing, django_assert_max_num_queries):
    segment = SegmentFactory(kind="estatico", definition={})
    for _n in range(30):
        segment.memberships.create(contact=ContactFactory())
    client = client_for(marketing)
    with django_assert_max_num_queries(12):
        assert client.get(segment.get_absolute_url()).status_code == 200


def test_contact_list_offers_add_to_list_to_marketing_only(client_for, marketing, rep):
    contact = ContactFactory()
    url = reverse("contacts:contact-list")
    body = client_for(marketing).get(url).content.decode()
    assert 'id="contact-selection"' in body
    assert re.search(rf'name="contacts"\s+value="{contact.pk}"\s+form="contact-selection"', body)
    assert ADD in body
    assert 'id="contact-selection"' not in client_for(rep).get(url).content.decode()


def test_a_broken_stored_definition_is_shown_not_a_500(client_for, marketing):
    segment = SegmentFactory(definition={"match": "all", "groups": [{"conditions": "x"}]})
    client = client_for(marketing)
    detail = client.get(segment.get_absolute_url())
    assert detail.status_code == 200
    assert "no son válidas" in detail.content.decode()
    assert client.get(reverse("campaigns:segment-edit", args=[segment.pk])).status_code == 200
    count = client.get(reverse("campaigns:segment-count", args=[segment.pk]))
    assert count.status_code == 200


@pytest.mark.parametrize(
    "extra",
    [
        {"action": "remove-condition-7-3"},
        {"action": "add-condition-99"},
        {"action": "borrar-todo"},
        {"kind": "raro", "action": "save"},
        {"g0-c0-op": "drop table", "action": "save"},
        {"g0-c0-value": ["<script>"], "action": "refresh"},
        {"g0-c0-field": "consent", "g0-c0-shown": "consent", "g0-c0-op": "is", "g0-c0-topic": "x"},
        {"g0-c0-field": "owner", "g0-c0-shown": "owner", "g0-c0-value": ["uno"], "action": "save"},
        {"match": "ninguno", "action": "save"},
    ],
)
def test_bad_input_never_500s_nor_saves(client_for, marketing, extra):
    client = client_for(marketing)
    response = client.post(CREATE, builder_post(**extra))
    assert response.status_code in (200, 422)
    assert client.post(PREVIEW, builder_post(**extra)).status_code == 200
    assert not Segment.objects.exists()
