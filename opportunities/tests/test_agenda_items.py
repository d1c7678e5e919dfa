"""The agenda's items made in Python (opportunities/views/agenda_items.py) show what the partial
they replace showed, value for value and escaped the same: data/agenda_item_reference.html is
that partial, kept only to compare with."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.template import Context, Template
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import time as time_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from contacts.tests.factories import ContactFactory
from opportunities.models import Activity, ActivityKind
from opportunities.selectors import activities as selectors
from opportunities.tests.factories import ActivityFactory
from opportunities.views.agenda_items import OUTCOME_CHARS, agenda_item_maker

pytestmark = pytest.mark.django_db

REFERENCE = Path(__file__).with_name("data") / "agenda_item_reference.html"
ITEM_START = '<li class="list-group-item agenda-item"'


def _normal(html: str) -> str:
    """The template's indentation away: whitespace runs are one space, none between tags,
    after an opening tag or before a closing one (the space after an icon, or around a "·",
    stays), and a class attribute's names are single-spaced."""
    html = re.sub(r"\s+", " ", html)
    html = re.sub(r">\s+<", "><", html)
    html = re.sub(r"\s+</", "</", html)
    html = re.sub(r"(<(?!/)[^>]*>)\s+", r"\1", html)
    html = re.sub(r'class="([^"]*)"', lambda m: f'class="{" ".join(m.group(1).split())}"', html)
    return html.strip()


def _variety(rep) -> list[Activity]:
    """One activity for each way an item can look, read as the agenda reads them."""
    now = timezone.now()
    odd = ContactFactory(first_name="<b>Beto</b>", last_name="O'Neil & Hijos")
    plain = ContactFactory(first_name="Ana", last_name="Zapata", account=odd.account)
    odd.account.name = 'Tienda "La <i>Luz</i>" & Cía'
    odd.account.save()
    long_outcome = 'Firmó <el> pedido & pidió "descuento"; ' * 10
    assert len(long_outcome) > OUTCOME_CHARS
    made = [
        # Planned, its account alone, untitled (the kind's name), with a place.
        ActivityFactory(owner=rep, subject="", place='Calle 5 & "Sur" <3>'),
        # Done, a contact and an account, a long outcome and markup in every text.
        ActivityFactory(
            owner=rep,
            kind=ActivityKind.CALL,
            status=Activity.Status.DONE,
            contact=odd,
            account=odd.account,
            subject='Revisar <pedido> & "precio"',
            planned_at=now - timedelta(hours=3),
            done_at=now - timedelta(hours=2),
            outcome=long_outcome,
        ),
        # Cancelled, a contact alone and a place: its outcome is not shown.
        ActivityFactory(
            owner=rep,
            kind=ActivityKind.MEETING,
            status=Activity.Status.CANCELLED,
            contact=plain,
            account=None,
            place="Oficina",
            outcome="No vino",
        ),
        # Planned and overdue, a contact and an account, no place.
        ActivityFactory(
            owner=rep,
            kind=ActivityKind.WHATSAPP,
            contact=plain,
            account=plain.account,
            subject="Seguimiento",
            planned_at=now - timedelta(days=3),
        ),
        # Done with a short outcome, its contact and a place.
        ActivityFactory(
            owner=rep,
            kind=ActivityKind.EMAIL,
            status=Activity.Status.DONE,
            contact=plain,
            account=None,
            place="Correo",
            done_at=now - timedelta(days=1, minutes=7),
            outcome="Ok",
        ),
        # Done without an outcome, of the kind without its own icon.
        ActivityFactory(
            owner=rep,
            kind=ActivityKind.TASK,
            status=Activity.Status.DONE,
            subject="",
            done_at=now - timedelta(minutes=1),
        ),
    ]
    found = Activity.objects.select_related("account", "contact").only(*selectors.AGENDA_FIELDS)
    found = {row.pk: row for row in found.filter(pk__in=[a.pk for a in made])}
    return [found[activity.pk] for activity in made]


def _as_the_view_gave_them(activities: list[Activity]) -> list[Activity]:
    """The links and times the agenda's view gave the partial, by Django's own means."""
    for activity in activities:
        local = timezone.localtime(activity.when)
        activity.url = activity.get_absolute_url()
        activity.complete_url = reverse("opportunities:activity-complete", args=[activity.pk])
        activity.contact_url = activity.contact.get_absolute_url() if activity.contact_id else ""
        activity.account_url = activity.account.get_absolute_url() if activity.account_id else ""
        activity.day_text = date_filter(local, "D j M")
        activity.time_text = time_filter(local, "H:i")
    return activities


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("show_date", [True, False])
def test_items_are_the_reference_partial_item_for_item(rep, language, show_date):
    activities = _variety(rep)
    with override(language):
        make = agenda_item_maker()
        made = [make(activity, show_date=show_date) for activity in activities]
        reference = Template(REFERENCE.read_text()).render(
            Context({"rows": _as_the_view_gave_them(activities), "show_date": show_date})
        )
    expected = [ITEM_START + item for item in _normal(reference).split(ITEM_START)[1:]]
    assert [_normal(item) for item in made] == expected
    assert len(made) == 6


def test_the_agenda_shows_the_items_escaped(client_for, rep):
    contact = ContactFactory(first_name="<script>x</script>", last_name="Ruiz")
    ActivityFactory(owner=rep, contact=contact, account=None, planned_at=timezone.now())
    html = client_for(rep).get(reverse("opportunities:agenda")).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt; Ruiz</a>" in html
    assert "<script>x</script>" not in html


def test_done_answers_the_item_with_its_links_and_hour(client_for, rep):
    """The answer to "Hecha" is the agenda's item (it had empty links and no hour when the
    view gave the partial its links)."""
    contact = ContactFactory(first_name="Ana", last_name="Zapata")
    activity = ActivityFactory(owner=rep, contact=contact, planned_at=timezone.now())
    url = reverse("opportunities:activity-complete", args=[activity.pk])
    response = client_for(rep).post(url, {"outcome": "Hecho"}, HTTP_HX_REQUEST="true")
    activity.refresh_from_db()
    with override("es"):
        expected = agenda_item_maker()(activity, show_date=False)
    assert _normal(response.content.decode()) == _normal(expected)
    assert f'href="{activity.get_absolute_url()}"' in expected
    assert f'href="{contact.get_absolute_url()}"' in expected
    assert timezone.localtime(activity.done_at).strftime("%H:%M") in expected
