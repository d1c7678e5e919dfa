import pytest
from django.test import RequestFactory

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from crm.core.forms_utils import paginate, safe_next


@pytest.mark.django_db
def test_a_page_reads_its_rows_by_id_from_rows_when_given():
    """The filters choose the ids; `rows` (the unfiltered records) only gives their rows,
    in the list's order."""
    accounts = AccountFactory.create_batch(5)
    chosen = [a.pk for a in accounts if a.pk % 2] or [accounts[0].pk]
    listed = Account.objects.filter(pk__in=chosen).order_by("-pk")
    request = RequestFactory().get("/", {"page": 1})

    page = paginate(request, listed, per_page=2, rows=Account.objects.all())

    assert [a.pk for a in page] == sorted(chosen, reverse=True)[:2]
    assert page.has_next == (len(chosen) > 2)


@pytest.mark.django_db
def test_rows_never_add_a_record_the_filters_left_out():
    kept, left_out = AccountFactory.create_batch(2)
    request = RequestFactory().get("/")

    page = paginate(
        request, Account.objects.filter(pk=kept.pk), per_page=10, rows=Account.objects.all()
    )

    assert [a.pk for a in page] == [kept.pk]
    assert left_out.pk not in {a.pk for a in page}


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["9" * 40, str(2**63), "-3", "abc", "²"])
def test_a_page_number_no_page_can_have_is_the_first_page(page):
    """Not an OFFSET past the database's integers (SQLite: OverflowError, "datatype
    mismatch")."""
    account = AccountFactory()
    request = RequestFactory().get("/", {"page": page})

    listed = paginate(request, Account.objects.order_by("pk"), per_page=25)

    assert listed.number == 1
    assert list(listed) == [account]


@pytest.mark.django_db
def test_a_page_past_the_last_one_is_empty():
    AccountFactory()
    request = RequestFactory().get("/", {"page": "9" * 18})

    listed = paginate(request, Account.objects.order_by("pk"), per_page=25)

    assert list(listed) == []
    assert not listed.has_next


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/contactos/12/", "/contactos/12/"),
        ("/ventas/?page=2", "/ventas/?page=2"),
        ("abc", "/inicio/"),  # redirect() would take it for a URL pattern's name: 500
        ("2026-02-30", "/inicio/"),
        ("https://otro.example/", "/inicio/"),
        ("//otro.example/", "/inicio/"),
        ("", "/inicio/"),
    ],
)
def test_safe_next_is_only_a_path_of_this_site(next_url, expected):
    request = RequestFactory().post("/", {"next": next_url})
    assert safe_next(request, "/inicio/") == expected
