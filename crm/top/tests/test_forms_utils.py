import pytest
from django.test import RequestFactory

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from crm.core.forms_utils import paginate


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
