"""Page 2,000 of the account list costs what page 1 costs (issue 12; see deep_pages)."""

from django.urls import reverse

from accounts.models import Account
from crm.core.tests.deep_pages import PER_PAGE, ROWS, assert_deep_page_is_cheap


def test_account_list_deep_page(rep, client_for, settings):
    settings.PAGE_SIZE = PER_PAGE
    accounts = [Account(name=f"Cuenta {i:05d}", owner=rep, status="activo") for i in range(ROWS)]
    for account in accounts:
        account.refresh_search_fields()
    Account.objects.bulk_create(accounts, batch_size=1000)

    assert_deep_page_is_cheap(
        client_for(rep),
        reverse("accounts:account-list"),
        model=Account,
        ordered=[a.pk for a in accounts],
        labels=[a.name for a in accounts],
    )
