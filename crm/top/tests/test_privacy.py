"""A person's data rights (crm.top.privacy): the export holds everything, the erasure
anonymises what identifies them and keeps the proof and the figures, once."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from campaigns import eligibility
from campaigns.models import (
    AutomationDelivery,
    FormSubmission,
    SegmentMember,
    Send,
    Suppression,
    TrackingEvent,
)
from campaigns.tests.factories import (
    AutomationFactory,
    CampaignFactory,
    SegmentFactory,
    SendFactory,
    SignupFormFactory,
    TrackingEventFactory,
)
from contacts.imports.models import ImportedRecord, ImportRun
from contacts.models import Consent, ConsentLatest, Contact
from contacts.tests.factories import ConsentFactory, ContactFactory
from crm.core.models import AuditEvent
from crm.top import privacy
from opportunities.models import Activity, Opportunity
from opportunities.tests.factories import ActivityFactory, OpportunityFactory, stage
from support.models import Comment, ContactSatisfaction, Survey
from support.tests.factories import CommentFactory, SurveyFactory, TicketFactory

pytestmark = pytest.mark.django_db

EMAIL = "lucia.fernandez@ejemplo.mx"
MOBILE = "+525512345678"


def test_every_relation_to_a_contact_is_covered_by_the_export():
    """A new model with a foreign key to Contact must be decided in privacy.RELATIONS (what
    the export shows of it, what the erasure does to it) before it ships."""
    missing = [
        privacy.relation_key(relation)
        for relation in privacy.contact_relations()
        if privacy.relation_key(relation) not in privacy.RELATIONS
    ]
    assert missing == [], f"Not covered by crm.top.privacy.RELATIONS: {', '.join(missing)}"
    sections = set(privacy.SECTIONS) | {"history"}
    assert set(privacy.RELATIONS.values()) <= sections


def test_an_unregistered_relation_is_still_exported_and_named(monkeypatch, admin_user):
    contact = ContactFactory()
    ConsentFactory(contact=contact)
    relations = {k: v for k, v in privacy.RELATIONS.items() if k != "contacts.Consent.contact"}
    monkeypatch.setattr(privacy, "RELATIONS", relations)
    data = privacy.person_data(contact)
    assert len(data["other"]["contacts.Consent.contact"]) == 1


@pytest.fixture
def person(rep, support, admin_user):
    """Lucía, with something in every app: consent, deals, visits, tickets, surveys, sends."""
    contact = ContactFactory(
        owner=rep,
        first_name="Lucía",
        last_name="Fernández Ruiz",
        email=EMAIL,
        mobile=MOBILE,
        phone="+525587654321",
        street="Calle Olivo 12",
        postal_code="06700",
        birthday=timezone.localdate().replace(year=1985),
        notes="Prefiere que la llamen por la tarde; alérgica al látex.",
        tags=["vip", "feria-2025"],
    )
    contact.first_name = "Lucía"
    contact.job_title = "Directora de compras"
    contact._history_user = rep
    contact.save()  # a second history record, with the job title
    ConsentFactory(contact=contact, ip_address="203.0.113.7", user_agent="Firefox/130")
    deal = OpportunityFactory(
        owner=rep,
        account=contact.account,
        contact=contact,
        name="Renovación Lucía Fernández Ruiz",
        amount=Decimal("250000.00"),
        stage=stage("Propuesta"),
        description="Llamar a Lucía al 55 1234 5678 antes del viernes.",
    )
    ActivityFactory(
        owner=rep,
        account=contact.account,
        contact=contact,
        subject="Visita a Lucía",
        notes="Comentó que se cambia de casa.",
        outcome="Interesada en el plan anual.",
        place="Calle Olivo 12",
    )
    ActivityFactory(
        owner=rep,
        account=contact.account,
        subject="Revisión con compras",
        notes="Hablar con Lucía Fernández Ruiz (lucia.fernandez@ejemplo.mx).",
    )
    ticket = TicketFactory(
        account=contact.account,
        contact=contact,
        created_by=support,
        subject="Pedido incompleto de Lucía",
        description="Soy Lucía, me llegó el pedido incompleto, mi teléfono es 5512345678.",
    )
    CommentFactory(ticket=ticket, kind=Comment.Kind.CUSTOMER, author=None, body="Sigo esperando.")
    CommentFactory(ticket=ticket, kind=Comment.Kind.REPLY, body="Hola Lucía, ya va en camino.")
    CommentFactory(ticket=ticket, kind=Comment.Kind.NOTE, body="Revisar almacén.")
    SurveyFactory(ticket=ticket, score=2, comment="Tardaron mucho.", answered_at=timezone.now())
    ContactSatisfaction.objects.create(contact=contact, level="insatisfecho", answers=1)
    send = SendFactory(contact=contact, campaign=CampaignFactory(name="Ofertas de otoño"))
    TrackingEventFactory(send=send, ip_address="198.51.100.4", user_agent="iPhone Mail")
    segment = SegmentFactory(kind="estatico")
    segment.members.add(contact)
    FormSubmission.objects.create(
        form=SignupFormFactory(owner=rep),
        contact=contact,
        consent_version="v1",
        email=EMAIL,
        values={"first_name": "Lucía", "last_name": "Fernández Ruiz", "phone": "55 1234 5678"},
        referrer="https://www.ejemplo.com.mx/?ref=lucia.fernandez",
        ip_address="203.0.113.9",
        user_agent="Mozilla/5.0 (iPhone) Safari",
        utm_source="boletin",
        utm_term="lucia fernandez",
    )
    automation = AutomationFactory()
    AutomationDelivery.objects.create(
        automation=automation,
        step=automation.steps.get(),
        contact=contact,
        occurrence="2026",
        email=EMAIL,
        due_at=timezone.now(),
        status=AutomationDelivery.Status.SENT,
    )
    run = ImportRun.objects.create(file="x.csv", file_name="x.csv", kind="csv")
    ImportedRecord.objects.create(
        run=run,
        model=ImportedRecord.Model.CONTACT,
        object_id=contact.pk,
        action=ImportedRecord.Action.UPDATED,
        changes={"email": ["vieja@ejemplo.mx", EMAIL], "lead_score": [5, 10]},
    )
    return contact, deal, ticket


def test_the_export_holds_everything_and_is_json(person):
    contact, deal, ticket = person
    data = privacy.person_data(contact)
    assert data["contact"]["email"] == EMAIL
    assert data["contact"]["job_title"] == "Directora de compras"
    assert data["account"]["name"] == contact.account.name
    assert data["owner"] == str(contact.owner)
    assert data["tags"] == ["feria-2025", "vip"]
    assert data["consents"][0]["ip_address"] == "203.0.113.7"
    assert data["consent_current"][0]["action"] == "Otorgado"
    assert [o["amount"] for o in data["opportunities"]] == [Decimal("250000.00")]
    assert data["opportunities"][0]["stage"] == "Propuesta"
    assert data["activities"][0]["notes"] == "Comentó que se cambia de casa."
    [exported_ticket] = data["tickets"]
    assert exported_ticket["number"] == ticket.number
    assert [c["body"] for c in exported_ticket["comments"]] == [
        "Sigo esperando.",
        "Hola Lucía, ya va en camino.",
        "Revisar almacén.",
    ]
    assert [c["public"] for c in exported_ticket["comments"]] == [True, True, False]
    assert data["surveys"][0]["comment"] == "Tardaron mucho."
    assert data["satisfaction"]["level"] == "Insatisfecho"
    assert data["campaign_sends"][0]["campaign"] == "Ofertas de otoño"
    assert data["tracking_events"][0]["ip_address"] == "198.51.100.4"
    assert data["automation_deliveries"][0]["email"] == EMAIL
    submission = data["form_submissions"][0]
    assert submission["values"]["phone"] == "55 1234 5678"
    assert (submission["ip_address"], submission["utm"]["utm_source"]) == ("203.0.113.9", "boletin")
    assert len(data["segments"]) == 1
    assert len(data["history"]) == 2
    assert any(
        change["field"] == "puesto" for entry in data["history"] for change in entry["changes"]
    )
    assert "other" not in data
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    assert "Lucía" in text


def test_the_pdf_is_a_pdf_with_the_person(person):
    contact, _deal, _ticket = person
    pdf = privacy.person_pdf(contact)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 5000


def _all_text(contact_pk: int) -> str:
    """Every row the erasure touches, as one text, to look for the person's data in."""
    contact = Contact.objects.get(pk=contact_pk)
    rows = [
        list(Contact.objects.filter(pk=contact_pk).values()),
        list(contact.history.values()),
        list(Activity.objects.values()),
        list(Opportunity.objects.values()),
        list(Comment.objects.values()),
        list(Survey.objects.values()),
        list(Send.objects.values()),
        list(TrackingEvent.objects.values()),
        list(FormSubmission.objects.values()),
        list(AutomationDelivery.objects.values()),
        list(ImportedRecord.objects.values()),
        list(AuditEvent.objects.exclude(action=AuditEvent.Action.CONSENT).values()),
    ]
    from support.models import Ticket

    rows.append(list(Ticket.objects.values()))
    return json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False)


def test_erasure_anonymises_the_person_and_keeps_proof_and_figures(person, admin_user):
    contact, deal, ticket = person
    ledger_before = list(Consent.objects.filter(contact=contact).values())
    assert ledger_before[0]["ip_address"] == "203.0.113.7"
    result = privacy.person_erase(
        actor=admin_user, contact=contact, reason="Solicitud ARCO folio 17 de Lucía Fernández Ruiz"
    )
    assert result.changed and not result.already_erased

    contact.refresh_from_db()
    assert contact.first_name == "Persona eliminada"
    assert (contact.last_name, contact.email, contact.phone, contact.mobile) == ("", "", "", "")
    assert (contact.street, contact.postal_code, contact.notes, contact.job_title) == ("",) * 4
    assert contact.birthday is None
    assert contact.erased_at is not None and contact.archived_at is not None
    assert list(contact.tags.names()) == []
    assert contact.search_text == "persona eliminada"

    # The history lost the old values too.
    for record in contact.history.all():
        assert record.email == "" and record.first_name == "Persona eliminada"
        assert record.job_title == "" and record.birthday is None

    # Nothing of hers is left in the rows the erasure touches (her name, address, numbers).
    text = _all_text(contact.pk)
    for needle in ("Lucía", "Fernández", EMAIL, "vieja@ejemplo.mx", "5512345678", "1234 5678"):
        assert needle not in text, needle
    for needle in ("Olivo", "látex", "se cambia de casa", "198.51.100", "iPhone Mail"):
        assert needle not in text, needle
    for needle in ("203.0.113.9", "ref=lucia", "lucia fernandez", "(iPhone) Safari"):
        assert needle not in text, needle

    # The consent ledger is kept as it was, plus the withdrawal.
    assert list(Consent.objects.filter(pk__in=[e["id"] for e in ledger_before]).values()) == (
        ledger_before
    )
    assert ConsentLatest.objects.get(contact=contact, channel="email").action == "withdraw"
    assert Consent.objects.filter(contact=contact).count() == 2

    # Sales figures stay; the deal's words lose her name.
    deal.refresh_from_db()
    assert (deal.amount, deal.stage.name, deal.contact_id) == (
        Decimal("250000.00"),
        "Propuesta",
        contact.pk,
    )
    assert deal.name == "Renovación [dato eliminado]"

    # Her activities' notes are blank; the account's other activity only loses her name.
    visit = Activity.objects.get(contact=contact)
    assert (visit.notes, visit.outcome, visit.place) == ("", "", "[dato eliminado]")
    other = Activity.objects.get(contact=None)
    assert other.notes == "Hablar con [dato eliminado] ([dato eliminado])."

    # Tickets: her words gone, the staff's kept without her name, the figures untouched.
    ticket.refresh_from_db()
    assert ticket.description == "" and ticket.status == "nuevo"
    assert "Lucía" not in ticket.search_text
    bodies = dict(Comment.objects.values_list("kind", "body"))
    assert bodies == {
        "cliente": "[dato eliminado]",
        "respuesta": "Hola [dato eliminado], ya va en camino.",
        "nota": "Revisar almacén.",
    }
    survey = Survey.objects.get()
    assert (survey.score, survey.comment) == (2, "")

    # Sends kept for the figures, without her address; events without IP and browser.
    send = Send.objects.get()
    assert send.status == "enviado" and send.email.endswith("@anonimo.invalid")
    event = TrackingEvent.objects.get()
    assert (event.ip_address, event.user_agent, event.kind) == (None, "", "apertura")
    assert not Send.objects.filter(email=EMAIL).exists()
    assert not SegmentMember.objects.filter(contact=contact).exists()

    # Never emailed again: every address she used is on the suppression list.
    assert set(Suppression.objects.values_list("email", flat=True)) == {EMAIL, "vieja@ejemplo.mx"}
    suppression = Suppression.objects.get(email=EMAIL)
    assert suppression.created_by == admin_user and "Lucía" not in suppression.note

    # Audited once, with the actor and a reason that no longer names her.
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.DELETE)
    assert event.actor == admin_user and event.target == f"contacts.contact:{contact.pk}"
    assert event.detail["reason"] == "Solicitud ARCO folio 17 de [dato eliminado]"
    assert EMAIL not in json.dumps(event.detail) and "Lucía" not in json.dumps(event.detail)
    assert not AuditEvent.objects.filter(detail__icontains=EMAIL).exists()


def test_the_same_address_coming_back_is_never_emailed(person, admin_user):
    contact, _deal, _ticket = person
    privacy.person_erase(actor=admin_user, contact=contact, reason="Solicitud 18")
    again = ContactFactory(email=EMAIL)  # an import or a sign-up brings the address back
    ConsentFactory(contact=again)
    assert eligibility.ineligible_reason(again, None) == (
        "La dirección está en la lista de supresión."
    )
    assert not eligibility.eligible_contact_ids([contact.pk, again.pk], None)


def test_erasure_is_idempotent(person, admin_user):
    contact, _deal, _ticket = person
    privacy.person_erase(actor=admin_user, contact=contact, reason="Solicitud 19")
    before = _all_text(contact.pk)
    ledger = Consent.objects.count()
    history = contact.history.count()
    audits = AuditEvent.objects.count()

    result = privacy.person_erase(actor=admin_user, contact=contact, reason="Otra vez")
    assert result.already_erased and not result.changed
    assert _all_text(contact.pk) == before
    assert (Consent.objects.count(), contact.history.count(), AuditEvent.objects.count()) == (
        ledger,
        history,
        audits,
    )


def test_a_second_run_sweeps_what_arrived_since(person, admin_user):
    """An open of an old message after the erasure brings an IP again: the next run clears it."""
    contact, _deal, _ticket = person
    privacy.person_erase(actor=admin_user, contact=contact, reason="Solicitud 20")
    TrackingEventFactory(send=Send.objects.get(), ip_address="192.0.2.1", user_agent="Outlook")
    result = privacy.person_erase(actor=admin_user, contact=contact, reason="Barrido")
    assert result.changed and result.counts["campaigns"] == 1
    assert not TrackingEvent.objects.filter(ip_address__isnull=False).exists()
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DELETE, detail__erasure="repeated"
    ).exists()


def test_only_an_administrator_erases_and_a_reason_is_required(person, rep, admin_user):
    contact, _deal, _ticket = person
    with pytest.raises(PermissionDenied):
        privacy.person_erase(actor=rep, contact=contact, reason="x")
    with pytest.raises(ValidationError):
        privacy.person_erase(actor=admin_user, contact=contact, reason="  ")
    contact.refresh_from_db()
    assert contact.erased_at is None and contact.email == EMAIL


def test_a_contact_without_anything_else_is_erased_too(admin_user):
    contact = ContactFactory(email="", phone="", mobile="", last_name="")
    result = privacy.person_erase(actor=admin_user, contact=contact, reason="Solicitud 21")
    assert result.changed
    contact.refresh_from_db()
    assert contact.first_name == "Persona eliminada"
    assert not Suppression.objects.exists()


def test_duplicates_merged_into_the_person_are_erased_with_them(admin_user):
    contact = ContactFactory(email=EMAIL)
    duplicate = ContactFactory(email="lucia.otra@ejemplo.mx", archived_at=timezone.now())
    Contact.objects.filter(pk=duplicate.pk).update(merged_into=contact)
    result = privacy.person_erase(actor=admin_user, contact=contact, reason="Solicitud 22")
    assert result.counts["merged_contacts"] == 1
    duplicate.refresh_from_db()
    assert duplicate.erased_at is not None and duplicate.email == ""
    assert Suppression.objects.filter(email="lucia.otra@ejemplo.mx").exists()
