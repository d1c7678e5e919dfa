"""Tags from a column (commas, semicolons, Google's " ::: " labels), and the undo takes away
exactly the tag links (and the tags) the run added."""

import pytest
from taggit.models import Tag

from contacts.imports import runner
from contacts.imports.mapping import suggest
from contacts.imports.rows import UPDATE, split_tags
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from contacts.tests.imports import media, preview, run_import  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _tags(contact: Contact) -> list[str]:
    return sorted(contact.tags.names())


@pytest.mark.parametrize("column", ["Etiquetas", "Tags", "Labels", "Group Membership", "ETIQUETA"])
def test_the_tags_column_is_recognised(column):
    assert suggest(["Nombre", column])[column] == "tags"


def test_tags_are_split_by_commas_semicolons_and_google_separators():
    assert split_tags("Clientes; VIP, Feria 2024") == ["Clientes", "VIP", "Feria 2024"]
    assert split_tags("* myContacts ::: Clientes ::: * Starred ::: clientes") == [
        "Clientes",
        "Starred",
    ]
    assert split_tags("* myContacts") == []


def test_an_import_tags_its_contacts_reusing_existing_tags(rep):
    Tag.objects.create(name="Cliente VIP")
    run = run_import(
        "a.csv",
        actor=rep,
        data=_csv("Nombre,Correo,Etiquetas", "Ana,ana@x.mx,cliente vip; Feria", "Eva,eva@x.mx,"),
    )
    assert run.counts_line == "creados 2, actualizados 0, duplicados 0, errores 0"
    assert _tags(Contact.objects.get(email="ana@x.mx")) == ["Cliente VIP", "Feria"]
    assert _tags(Contact.objects.get(email="eva@x.mx")) == []
    assert Tag.objects.count() == 2  # "cliente vip" is the tag that existed


def test_google_contacts_labels_become_tags_but_my_contacts(rep):
    data = _csv(
        "Name,Given Name,Labels,E-mail 1 - Value",
        "Ana Torres,Ana,* myContacts ::: Proveedores ::: * Starred,ana@x.mx",
        "Luis,Luis,* myContacts,luis@x.mx",
    )
    run_import("google.csv", actor=rep, data=data)
    assert _tags(Contact.objects.get(email="ana@x.mx")) == ["Proveedores", "Starred"]
    assert _tags(Contact.objects.get(email="luis@x.mx")) == []


def test_a_tag_too_long_is_an_error_naming_the_field(rep):
    result = preview("a.csv", actor=rep, data=_csv("Nombre,Etiquetas", "Ana," + "x" * 101))
    assert "Etiquetas:" in result.rows[0].reason_text


def test_a_new_tag_alone_updates_a_duplicate(rep):
    ana = ContactFactory(owner=rep, first_name="Ana", email="ana@x.mx")
    ana.tags.add("Antigua")
    rows = preview(
        "a.csv",
        actor=rep,
        duplicates="update",
        data=_csv("Nombre,Correo,Etiquetas", "Ana,ana@x.mx,Nueva; antigua"),
    ).rows
    assert (rows[0].status, rows[0].tags, rows[0].changes) == (UPDATE, ["Nueva"], {})


def test_undo_removes_the_tags_it_added_and_only_those(rep):
    ana = ContactFactory(owner=rep, first_name="Ana", email="ana@x.mx", job_title="Compras")
    ana.tags.add("Antigua")
    data = _csv(
        "Nombre,Correo,Etiquetas",
        "Ana,ana@x.mx,Nueva; Antigua",
        "Eva,eva@x.mx,Nueva",
        "Luz,luz@x.mx,Solo luz",
    )
    run = run_import("a.csv", actor=rep, data=data, duplicates="update")
    assert run.counts_line == "creados 2, actualizados 1, duplicados 0, errores 0"
    assert _tags(ana) == ["Antigua", "Nueva"]
    luz = Contact.objects.get(email="luz@x.mx")
    luz.tags.add("Puesta después")  # touched since: archived, keeps what was added later

    run = runner.import_undo(actor=rep, run=run)
    assert _tags(ana) == ["Antigua"]
    assert not Contact.objects.filter(email="eva@x.mx").exists()
    luz.refresh_from_db()
    assert luz.archived_at is not None and _tags(luz) == ["Puesta después"]
    # The tags the run made go when nobody uses them; those that existed stay.
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["Antigua", "Puesta después"]
    assert run.undo_report["contacts_removed"] == 1 and run.undo_report["contacts_archived"] == 1
