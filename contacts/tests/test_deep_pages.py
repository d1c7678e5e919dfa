"""Page 2,000 of the contact list and of the imports costs what page 1 costs (issue 12; see
crm.core.tests.deep_pages)."""

from django.urls import reverse

from contacts.imports.models import ImportRun
from contacts.models import Contact
from crm.core.tests.deep_pages import PER_PAGE, ROWS, assert_deep_page_is_cheap


def test_contact_list_deep_page(rep, client_for, settings):
    settings.PAGE_SIZE = PER_PAGE
    contacts = [
        Contact(first_name="Ana", last_name=f"Apellido {i:05d}", owner=rep) for i in range(ROWS)
    ]
    for contact in contacts:
        contact.refresh_search_fields()
    Contact.objects.bulk_create(contacts, batch_size=1000)

    assert_deep_page_is_cheap(
        client_for(rep),
        reverse("contacts:contact-list"),
        model=Contact,
        ordered=[c.pk for c in contacts],
        labels=[c.last_name for c in contacts],
    )


def test_import_list_deep_page(rep, client_for, settings):
    """The imports of a rep, newest first."""
    settings.PAGE_SIZE = PER_PAGE
    runs = ImportRun.objects.bulk_create(
        [
            ImportRun(
                created_by=rep,
                file_name=f"lista-{i:05d}.csv",
                kind="csv",
                status=ImportRun.Status.DONE,
            )
            for i in range(ROWS)
        ],
        batch_size=1000,
    )
    newest_first = sorted(runs, key=lambda run: (run.created_at, run.pk), reverse=True)

    assert_deep_page_is_cheap(
        client_for(rep),
        reverse("contacts:import-list"),
        model=ImportRun,
        ordered=[run.pk for run in newest_first],
        labels=[run.file_name for run in newest_first],
    )
