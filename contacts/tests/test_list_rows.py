"""The contact list's rows made in Python (contacts/list_rows.py) show what the row template
they replace showed, value for value and escaped the same: data/contact_row_reference.html is
that template, kept only to compare with."""

from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from contacts import selectors
from contacts.list_rows import render_rows
from contacts.models import Consent, Contact
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.search_query import tag_names
from crm.core.tests.factories import UserFactory
from crm.core.tests.pages import in_order, markup_text

pytestmark = pytest.mark.django_db

REFERENCE = Path(__file__).with_name("data") / "contact_row_reference.html"


def _rows(user, contacts: list[Contact]) -> list:
    """As the list reads them: named tuples, in the order of `contacts`."""
    return in_order(selectors.contact_list_rows(user=user), contacts)


def _models(contacts: list[Contact]) -> list[Contact]:
    """As the replaced template read them: models, with the same consent and tags."""
    models = Contact.objects.select_related("owner", "account").annotate(
        email_consent=selectors.latest_consent_action(), tag_names=tag_names(Contact)
    )
    return in_order(models, contacts)


def _variety(rep) -> list[Contact]:
    """One contact for each way a row can look."""
    granted = ContactFactory(owner=rep, first_name="Ana", last_name="Zapata", tags=["feria", "vip"])
    ConsentFactory(contact=granted)
    withdrawn = ContactFactory(
        owner=rep, first_name="<b>Beto</b>", last_name="O'Neil & Hijos", job_title="", mobile=""
    )
    ConsentFactory(contact=withdrawn, action=Consent.Action.WITHDRAW)
    alone = ContactFactory(
        owner=rep, account=None, email="", mobile="", phone="", job_title='Dueña "grande"'
    )
    # An owner without a name is named by their user name.
    archived = ContactFactory(
        owner=UserFactory(first_name="", last_name="", username="sin.nombre"),
        lifecycle="cliente",
        lead_score=87,
    )
    Contact.objects.filter(pk=archived.pk).update(archived_at=timezone.now())
    return [granted, withdrawn, alone, archived]


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("selectable", [True, False])
def test_rows_are_the_reference_template_row_for_row(rep, language, selectable):
    contacts = _variety(rep)
    with override(language):
        made = render_rows(_rows(rep, contacts), selectable=selectable)
        reference = Template(REFERENCE.read_text()).render(
            Context({"page_obj": _models(contacts), "nav": {"campaigns": selectable}})
        )
    expected = [f"<tr>{row}" for row in markup_text(reference).split("<tr>")[1:]]
    assert [markup_text(row) for row in made] == expected
    assert len(made) == 4


def test_the_list_page_shows_the_rows_escaped(rep, client_for):
    ContactFactory(owner=rep, first_name="<script>x</script>", last_name="Ruiz")
    response = client_for(rep).get(reverse("contacts:contact-list"))
    assert "&lt;script&gt;x&lt;/script&gt; Ruiz</a>" in response.text
    assert "<script>x</script>" not in response.text
    # A rep may not add rows to campaign lists: no box to tick.
    assert 'form="contact-selection"' not in response.text


def test_marketing_can_tick_the_rows(marketing, client_for):
    contact = ContactFactory()
    response = client_for(marketing).get(reverse("contacts:contact-list"))
    assert f'name="contacts" value="{contact.pk}" form="contact-selection"' in response.text


def test_the_rows_query_is_built_once_and_reads_the_rows_as_they_are_now(rep):
    """The query is kept per process (selectors._kept_list_rows); what it reads is not."""
    contact = ContactFactory(owner=rep, first_name="Ana", tags=["feria"])
    selectors._kept_list_rows.cache_clear()
    first = _rows(rep, [contact])[0]
    Contact.objects.filter(pk=contact.pk).update(first_name="Anabel")
    contact.tags.set(["vip", "expo"])
    ConsentFactory(contact=contact)
    again = _rows(UserFactory(), [contact])[0]
    info = selectors._kept_list_rows.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert (first.first_name, first.tag_names, first.email_consent) == ("Ana", ["feria"], None)
    assert (again.first_name, again.tag_names, again.email_consent) == (
        "Anabel",
        ["expo", "vip"],
        "grant",
    )


def test_the_kept_rows_query_follows_the_content_types_id(monkeypatch):
    """A database whose content types were made again (a flush) gets a query naming the new
    id of the contacts' type, never the one kept from before."""
    from django.contrib.contenttypes.models import ContentType

    real = ContentType.objects.get_for_model(Contact)
    selectors._kept_list_rows.cache_clear()
    before = str(selectors.contact_list_rows(user=None).query)
    moved = ContentType(pk=real.pk + 7919, app_label=real.app_label, model=real.model)
    monkeypatch.setattr(ContentType.objects, "get_for_model", lambda model, **kw: moved)
    after = str(selectors.contact_list_rows(user=None).query)
    assert f"= {real.pk}" in before and f"= {moved.pk}" in after
    assert selectors._kept_list_rows.cache_info().misses == 2
