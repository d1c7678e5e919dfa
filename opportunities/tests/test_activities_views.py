"""The pages of activities: the sheet's panels (htmx), the agenda, the week, the visit plan and an
activity's page, for every role."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AccountFactory
from contacts.tests.factories import ContactFactory
from opportunities.models import Activity, CalendarFeed
from opportunities.selectors import activities as selectors
from opportunities.tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ROLES = ["rep", "manager", "other_rep", "support", "marketing", "admin_user"]


@pytest.fixture
def contact(rep):
    return ContactFactory(owner=rep, first_name="Elena", mobile="+525512345678")


def _log_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{reverse('opportunities:activity-log')}?{query}"


# The sheet's panels ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_panels_per_role(request, client_for, rep, contact, role):
    ActivityFactory(owner=rep, account=contact.account, subject="Visita de rep")
    user = request.getfixturevalue(role)
    client = client_for(user)
    for url in (
        reverse("opportunities:account-activities-panel", args=[contact.account.pk]),
        reverse("opportunities:contact-activities-panel", args=[contact.pk]),
    ):
        response = client.get(url, **HTMX)
        assert response.status_code == 200
        html = response.content.decode()
        assert ("data-kind=" in html) == (role in {"rep", "manager", "other_rep", "admin_user"})
        sees_rep = role in {"rep", "manager", "support", "admin_user"}
        if "de-cuenta" in url:
            assert ("Visita de rep" in html) == sees_rep
        if role == "marketing":
            assert "Tu rol no tiene acceso a las actividades." in html


def test_contact_panel_offers_call_and_whatsapp(client_for, rep, contact):
    html = (
        client_for(rep)
        .get(reverse("opportunities:contact-activities-panel", args=[contact.pk]))
        .content.decode()
    )
    for channel in ("llamada", "whatsapp"):
        assert reverse("opportunities:contact-attempt", args=[contact.pk, channel]) in html


def test_panel_of_an_unknown_record_is_404(client_for, rep):
    client = client_for(rep)
    assert (
        client.get(reverse("opportunities:account-activities-panel", args=[999])).status_code == 404
    )
    assert (
        client.get(reverse("opportunities:contact-activities-panel", args=[999])).status_code == 404
    )


def test_quick_form_opens_inline_with_the_kind_preselected(client_for, rep, contact):
    response = client_for(rep).get(_log_url(contact=contact.pk, kind="whatsapp"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<form")
    assert '<option value="whatsapp" selected>' in html
    assert 'type="datetime-local"' in html
    assert timezone.localtime().strftime("%Y-%m-%dT") in html


def test_quick_log_by_htmx_answers_the_panel_with_the_new_activity(client_for, rep, contact):
    next_at = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    response = client_for(rep).post(
        _log_url(contact=contact.pk),
        {
            "kind": "visita",
            "when": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "outcome": "Pidió muestras",
            "notes": "",
            "next_kind": "llamada",
            "next_at": next_at,
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "activity-logged"
    html = response.content.decode()
    assert f'id="activity-panel-contact-{contact.pk}"' in html
    assert "Pidió muestras" in html
    assert "Siguiente paso planificado" in html
    logged = Activity.objects.get(status=Activity.Status.DONE)
    assert (logged.contact, logged.account, logged.owner) == (contact, contact.account, rep)
    assert Activity.objects.filter(status=Activity.Status.PLANNED, kind="llamada").count() == 1


def test_quick_log_with_errors_keeps_the_form_open(client_for, rep, contact):
    response = client_for(rep).post(
        _log_url(account=contact.account.pk),
        {"kind": "visita", "when": "", "outcome": ""},
        **HTMX,
    )
    assert response.status_code == 200  # htmx swaps 2xx only
    html = response.content.decode()
    assert "is-invalid" in html
    assert "<form" in html
    assert not Activity.objects.exists()


def test_quick_log_without_javascript(client_for, rep, contact):
    client = client_for(rep)
    url = _log_url(account=contact.account.pk, kind="llamada")
    page = client.get(url)
    assert page.status_code == 200
    assert "opportunities/activities/log_page.html" in [t.name for t in page.templates]
    response = client.post(
        url,
        {
            "kind": "llamada",
            "when": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "outcome": "Sin respuesta",
            "contact": contact.pk,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == contact.account.get_absolute_url()
    assert Activity.objects.get().contact == contact
    assert client.post(url, {"kind": "llamada", "outcome": ""}).status_code == 422


@pytest.mark.parametrize("role", ["support", "marketing"])
def test_support_and_marketing_cannot_log(request, client_for, contact, role):
    client = client_for(request.getfixturevalue(role))
    url = _log_url(contact=contact.pk)
    assert client.get(url).status_code == 403
    assert client.post(url, {"kind": "visita", "outcome": "x"}).status_code == 403
    attempt = reverse("opportunities:contact-attempt", args=[contact.pk, "llamada"])
    assert client.post(attempt).status_code == 403
    assert not Activity.objects.exists()


def test_call_logs_the_attempt_then_opens_the_dialler(client_for, rep, contact):
    client = client_for(rep)
    url = reverse("opportunities:contact-attempt", args=[contact.pk, "llamada"])
    response = client.post(url, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "tel:+525512345678"
    assert response["HX-Trigger"] == "contact-attempt-logged"
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == "tel:+525512345678"
    assert Activity.objects.filter(contact=contact, kind="llamada", status="hecha").count() == 2
    assert client.get(url).status_code == 405


def test_whatsapp_logs_the_attempt_then_opens_wa_me(client_for, rep, contact):
    response = client_for(rep).post(
        reverse("opportunities:contact-attempt", args=[contact.pk, "whatsapp"]), **HTMX
    )
    assert response["HX-Redirect"].startswith("https://wa.me/525512345678?text=Hola%2C%20Elena.")
    assert Activity.objects.get().kind == "whatsapp"


def test_unknown_channel_is_404(client_for, rep, contact):
    url = reverse("opportunities:contact-attempt", args=[contact.pk, "fax"])
    assert client_for(rep).post(url).status_code == 404


# The agenda -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("rep", 200),
        ("manager", 200),
        ("admin_user", 200),
        ("support", 403),
        ("marketing", 403),
    ],
)
def test_agenda_pages_per_role(request, client_for, role, status):
    client = client_for(request.getfixturevalue(role))
    for name in ("agenda", "agenda-week", "visits-pending"):
        assert client.get(reverse(f"opportunities:{name}")).status_code == status


def test_agenda_shows_only_the_users_own(client_for, rep, other_rep):
    ActivityFactory(owner=rep, subject="Mía", planned_at=timezone.now() + timedelta(minutes=5))
    ActivityFactory(
        owner=other_rep, subject="Ajena", planned_at=timezone.now() + timedelta(minutes=5)
    )
    ActivityFactory(owner=rep, subject="Vencida", planned_at=timezone.now() - timedelta(days=2))
    html = client_for(rep).get(reverse("opportunities:agenda")).content.decode()
    assert "Mía" in html
    assert "Vencida" in html
    assert "Ajena" not in html
    # A rep cannot open someone else's agenda by its id.
    html = client_for(rep).get(reverse("opportunities:agenda") + f"?owner={other_rep.pk}")
    assert "Ajena" not in html.content.decode()


def test_manager_picks_a_rep_of_the_team(client_for, manager, rep, other_rep):
    mine = ActivityFactory(
        owner=rep, subject="De rep", planned_at=timezone.now() + timedelta(minutes=5)
    )
    ActivityFactory(
        owner=other_rep, subject="De otro", planned_at=timezone.now() + timedelta(minutes=5)
    )
    client = client_for(manager)
    html = client.get(reverse("opportunities:agenda") + f"?owner={rep.pk}").content.decode()
    assert "De rep" in html
    html = client.get(reverse("opportunities:agenda") + f"?owner={other_rep.pk}").content.decode()
    assert "De otro" not in html
    week = client.get(reverse("opportunities:agenda-week") + f"?owner={rep.pk}")
    assert mine.get_absolute_url() in week.content.decode()


def test_agenda_creates_the_feed_and_shows_its_url(client_for, rep):
    html = client_for(rep).get(reverse("opportunities:agenda")).content.decode()
    feed = CalendarFeed.objects.get(user=rep)
    assert reverse("opportunities:calendar-feed", args=[feed.token]) in html


def test_rotating_the_feed(client_for, rep):
    client = client_for(rep)
    client.get(reverse("opportunities:agenda"))
    old = CalendarFeed.objects.get(user=rep).token
    response = client.post(reverse("opportunities:calendar-feed-rotate"))
    assert response.status_code == 302
    assert CalendarFeed.objects.get(user=rep).token != old
    assert client.get(reverse("opportunities:calendar-feed", args=[old])).status_code == 404


def test_week_navigation(client_for, rep):
    client = client_for(rep)
    activity = ActivityFactory(owner=rep, subject="Dentro de dos semanas")
    activity.planned_at = timezone.now() + timedelta(days=14)
    activity.save()
    monday = activity.planned_at.astimezone(timezone.get_current_timezone()).date()
    monday -= timedelta(days=monday.weekday())
    response = client.get(reverse("opportunities:agenda-week") + f"?semana={monday}")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(" week-day ") == 7
    assert activity.get_absolute_url() in html
    assert f"?semana={monday - timedelta(days=7)}" in html
    assert client.get(reverse("opportunities:agenda-week") + "?semana=nope").status_code == 200


def test_visits_pending_page(client_for, rep):
    AccountFactory(owner=rep, tier_auto="A", name="Cuenta A sin visitas")
    AccountFactory(owner=rep, tier_auto="D", name="Cuenta D")
    html = client_for(rep).get(reverse("opportunities:visits-pending")).content.decode()
    assert "Cuenta A sin visitas" in html
    assert "Cuenta D" not in html


@pytest.mark.parametrize("offset", ["9" * 40, "²", "-3", "abc"])
def test_an_offset_no_page_can_have_starts_from_the_first_page(client_for, rep, offset):
    AccountFactory(owner=rep, tier_auto="A", name="Cuenta A sin visitas")
    client = client_for(rep)
    visits = client.get(reverse("opportunities:visits-pending"), {"desde": offset})
    assert visits.status_code == 200 and "Cuenta A sin visitas" in visits.content.decode()
    agenda = client.get(reverse("opportunities:agenda"), {"bloque": "vencidas", "desde": offset})
    assert agenda.status_code == 200


def test_the_agenda_loads_the_due_visits_badge_after_the_page(client_for, rep, other_rep):
    AccountFactory(owner=rep, tier_auto="A", name="Cuenta A sin visitas")
    AccountFactory(owner=rep, tier_auto="B", name="Cuenta B sin visitas")
    AccountFactory(owner=rep, tier_auto="D", name="Cuenta D")
    client = client_for(rep)
    count_url = reverse("opportunities:visits-pending-count")
    assert f'hx-get="{count_url}"' in client.get(reverse("opportunities:agenda")).content.decode()
    badge = client.get(count_url, headers={"HX-Request": "true"}).content.decode()
    assert '<span class="badge text-bg-danger">2</span>' in badge
    # Another team's rep is not an agenda this rep may open: their own count is shown.
    other = client.get(f"{count_url}?owner={other_rep.pk}").content.decode()
    assert ">2<" in other
    assert client_for(other_rep).get(count_url).content.decode().strip() == ""


def test_one_tap_done_from_the_agenda(client_for, rep):
    activity = ActivityFactory(owner=rep, planned_at=timezone.now() + timedelta(hours=1))
    client = client_for(rep)
    url = reverse("opportunities:activity-complete", args=[activity.pk])
    form = client.get(url, **HTMX)
    assert form.status_code == 200
    assert 'name="outcome"' in form.content.decode()
    refused = client.post(url, {"outcome": ""}, **HTMX)
    assert "is-invalid" in refused.content.decode()
    activity.refresh_from_db()
    assert activity.status == Activity.Status.PLANNED
    response = client.post(url, {"outcome": "Firmó el pedido"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="activity-{activity.pk}"' in html
    assert "Firmó el pedido" in html
    activity.refresh_from_db()
    assert activity.status == Activity.Status.DONE


# One activity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status", "editable"),
    [
        ("rep", 200, True),
        ("manager", 200, True),
        ("admin_user", 200, True),
        ("support", 200, False),
        ("other_rep", 404, False),
        ("marketing", 404, False),
    ],
)
def test_activity_detail_per_role(request, client_for, rep, role, status, editable):
    activity = ActivityFactory(owner=rep, subject="Demostración")
    client = client_for(request.getfixturevalue(role))
    response = client.get(reverse("opportunities:activity-detail", args=[activity.pk]))
    assert response.status_code == status
    if status == 200:
        assert ('id="editar"' in response.content.decode()) == editable
    for name in ("activity-cancel", "activity-complete", "activity-update"):
        response = client.post(reverse(f"opportunities:{name}", args=[activity.pk]), {})
        if not editable:
            assert response.status_code == 404, name
    activity.refresh_from_db()
    assert activity.status == (Activity.Status.CANCELLED if editable else Activity.Status.PLANNED)


def test_edit_and_cancel(client_for, rep):
    activity = ActivityFactory(owner=rep)
    client = client_for(rep)
    url = reverse("opportunities:activity-update", args=[activity.pk])
    when = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url,
        {
            "kind": "reunion",
            "subject": "Presentación",
            "planned_at": when,
            "duration_minutes": 45,
            "place": "Oficina",
            "notes": "",
        },
    )
    assert response.status_code == 302
    activity.refresh_from_db()
    assert (activity.kind, activity.subject, activity.duration_minutes) == (
        "reunion",
        "Presentación",
        45,
    )
    assert client.post(url, {"kind": "reunion"}).status_code == 422
    client.post(reverse("opportunities:activity-cancel", args=[activity.pk]))
    activity.refresh_from_db()
    assert activity.status == Activity.Status.CANCELLED


def test_plan_an_activity(client_for, rep, contact):
    client = client_for(rep)
    url = reverse("opportunities:activity-create") + f"?account={contact.account.pk}&kind=visita"
    assert client.get(url).status_code == 200
    when = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT10:00")
    response = client.post(
        url,
        {"kind": "visita", "planned_at": when, "duration_minutes": 60, "contact": contact.pk},
    )
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert (activity.status, activity.account, activity.contact) == (
        "planificada",
        contact.account,
        contact,
    )
    # Without a customer in the address, the account is chosen in the form.
    plain = reverse("opportunities:activity-create")
    response = client.post(plain, {"kind": "tarea", "planned_at": when, "duration_minutes": 30})
    assert response.status_code == 422
    response = client.post(
        plain,
        {
            "kind": "tarea",
            "planned_at": when,
            "duration_minutes": 30,
            "account": contact.account.pk,
        },
    )
    assert response.status_code == 302


def test_activity_list_of_a_customer(client_for, rep, other_rep, contact):
    ActivityFactory(owner=rep, account=contact.account, subject="Visible")
    ActivityFactory(owner=other_rep, account=contact.account, subject="Oculta")
    response = client_for(rep).get(
        reverse("opportunities:activity-list") + f"?account={contact.account.pk}"
    )
    html = response.content.decode()
    assert "Visible" in html
    assert "Oculta" not in html


# Queries: constant in the number of rows --------------------------------------------------------


def _many(rep, account, contact, n):
    now = timezone.now()
    for i in range(n):
        ActivityFactory(
            owner=rep, account=account, contact=contact, planned_at=now + timedelta(hours=i % 48)
        )
        ActivityFactory(
            owner=rep, account=account, contact=contact, planned_at=now - timedelta(days=1 + i)
        )
        ActivityFactory(
            owner=rep,
            account=account,
            status="hecha",
            planned_at=now - timedelta(hours=i),
            done_at=now - timedelta(hours=i),
            outcome="Ok",
        )


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_query_counts_stay_constant(
    request, client_for, rep, contact, django_assert_max_num_queries, role
):
    client = client_for(request.getfixturevalue(role))
    client.get(reverse("opportunities:agenda"))  # creates the feed
    owner = f"?owner={rep.pk}" if role == "manager" else ""
    urls = [
        reverse("opportunities:agenda") + owner,
        reverse("opportunities:agenda-week") + owner,
        reverse("opportunities:visits-pending") + owner,
        reverse("opportunities:account-activities-panel", args=[contact.account.pk]),
        reverse("opportunities:contact-activities-panel", args=[contact.pk]),
        reverse("opportunities:activity-list") + f"?account={contact.account.pk}",
    ]
    counts = {}
    for n in (3, 40):
        _many(rep, contact.account, contact, n)
        for url in urls:
            with django_assert_max_num_queries(10) as captured:
                assert client.get(url).status_code == 200
            counts.setdefault(url, set()).add(len(captured))
    assert all(len(sizes) == 1 for sizes in counts.values()), counts


def test_busy_rep_gets_bounded_buckets_with_more_links(
    client_for, rep, contact, django_assert_max_num_queries
):
    """Hundreds of items a day: each bucket shows a page and a "ver más", in as many queries."""
    now = timezone.now()
    zone = selectors.user_zone(rep)
    start = selectors.day_start(now.astimezone(zone).date(), zone)
    account = contact.account
    for i in range(30):
        ActivityFactory(owner=rep, account=account, planned_at=now - timedelta(days=8, minutes=i))
        when = start + timedelta(minutes=i)
        ActivityFactory(
            owner=rep, account=account, status="hecha", planned_at=when, done_at=when, outcome="Ok"
        )
    for _ in range(selectors.VISITS_PAGE + 10):
        AccountFactory(owner=rep, tier_auto="A")
    client = client_for(rep)
    agenda_url = reverse("opportunities:agenda")
    client.get(agenda_url)  # creates the feed

    with django_assert_max_num_queries(10):
        html = client.get(agenda_url).content.decode()
    limits = selectors.AGENDA_LIMITS
    assert html.count("agenda-item") == limits["today"] + limits["overdue"]
    assert f"bloque=dia&amp;desde={limits['today']}" in html
    assert f"bloque=vencidas&amp;desde={limits['overdue']}" in html
    # The due visits badge, loaded after the page, stops counting at its limit.
    badge = client.get(reverse("opportunities:visits-pending-count"), **HTMX).content.decode()
    assert f"{selectors.VISITS_COUNT_LIMIT}+</span>" in badge

    more = client.get(agenda_url + f"?bloque=dia&desde={limits['today']}", **HTMX)
    assert more.status_code == 200
    assert "<html" not in more.content.decode()
    assert more.content.decode().count("agenda-item") == 30 - limits["today"]
    assert "bloque=dia" not in more.content.decode()
    # Without JavaScript the link opens the whole page with that bucket from there on.
    page = client.get(agenda_url + f"?bloque=dia&desde={limits['today']}").content.decode()
    assert page.count("agenda-item") == 30 - limits["today"] + limits["overdue"]

    with django_assert_max_num_queries(8):
        week = client.get(reverse("opportunities:agenda-week")).content.decode()
    assert week.count("week-item") == selectors.WEEK_DAY_LIMIT
    assert f"?dia={start.date().isoformat()}" in week

    visits_url = reverse("opportunities:visits-pending")
    with django_assert_max_num_queries(8):
        visits = client.get(visits_url).content.decode()
    assert visits.count("bi-calendar-plus") - 1 == selectors.VISITS_PAGE  # + the nav's button
    assert f"?desde={selectors.VISITS_PAGE}" in visits
    second = client.get(visits_url + f"?desde={selectors.VISITS_PAGE}").content.decode()
    assert second.count("bi-calendar-plus") - 1 == 10


def test_support_reads_an_activity_without_its_deal(client_for, rep, support, contact):
    from opportunities.tests.factories import OpportunityFactory

    deal = OpportunityFactory(owner=rep, account=contact.account, name="Renovación 2027")
    activity = ActivityFactory(owner=rep, contact=contact, opportunity=deal)
    url = reverse("opportunities:activity-detail", args=[activity.pk])
    assert "Renovación 2027" in client_for(rep).get(url).text
    page = client_for(support).get(url)
    assert page.status_code == 200
    assert "Renovación 2027" not in page.text  # DESIGN.md §1: support never sees deals
