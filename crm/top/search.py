"""Global search: accounts and contacts by name, email, phone digits and tax id."""

from dataclasses import dataclass

from accounts.selectors import account_list
from contacts.selectors import contact_list
from crm.core.models import User
from crm.core.text import fold

MIN_LENGTH = 2


@dataclass
class SearchResults:
    query: str
    accounts: list
    contacts: list
    more_accounts: bool = False
    more_contacts: bool = False

    @property
    def empty(self) -> bool:
        return not self.accounts and not self.contacts


def global_search(*, user: User, query: str, limit: int = 8) -> SearchResults:
    query = (query or "").strip()[:100]
    if len(fold(query)) < MIN_LENGTH:
        return SearchResults(query=query, accounts=[], contacts=[])
    # One row more than shown tells whether to offer "see all" without counting every match.
    accounts = list(account_list(user=user, filters={"q": query})[: limit + 1])
    contacts = list(contact_list(user=user, filters={"q": query})[: limit + 1])
    return SearchResults(
        query=query,
        accounts=accounts[:limit],
        contacts=contacts[:limit],
        more_accounts=len(accounts) > limit,
        more_contacts=len(contacts) > limit,
    )
