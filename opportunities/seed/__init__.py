"""Demo sales data: the product catalogue and exchange rates (catalogue.py), opportunities with
their lines and stage history and the sellers' quotas (deals.py), activities and each account's
and contact's "last contacted" (activities.py); and, once the load is committed, the A/B/C/D
ranking recomputed from the won revenue.

`seed_sales` works on the accounts and contacts it is given: the ones just seeded, or (with
`seed_demo --only-sales`) every one already in the database.
"""

import time
from dataclasses import dataclass

from accounts.seed import AccountRow
from contacts.seed import ContactRow
from crm.core.seeding import Demo, bulk, bulk_rows_iter, since, timestamps_as_given
from opportunities.models import Activity, LineItem, Opportunity, StageChange
from opportunities.seed.activities import ACTIVITY_FIELDS, activity_rows, last_contacted_update
from opportunities.seed.catalogue import products, rates
from opportunities.seed.deals import DealMaker
from opportunities.services.tiers import account_tiers_compute

# The tables the sales data loads in bulk.
MODELS = (Opportunity, LineItem, StageChange, Activity)


@dataclass
class SalesSeed:
    products: int = 0
    rates: int = 0
    opportunities: int = 0
    line_items: int = 0
    stage_changes: int = 0
    activities: int = 0
    quotas: int = 0


def seed_sales(
    demo: Demo,
    accounts: list[AccountRow],
    contacts: list[ContactRow],
    *,
    opportunities: int,
    activities: int,
) -> SalesSeed:
    """`opportunities` deals and `activities` activities at `accounts` and `contacts`, with the
    catalogue and the rates they need, and the sellers' quotas that follow."""
    result = SalesSeed()
    deals = DealMaker(demo)
    catalogue, result.products = products()
    result.rates = rates(demo)
    contacts_by_account: dict[int, list[int]] = {}
    for contact in contacts:
        if contact.account_id and not contact.archived:
            contacts_by_account.setdefault(contact.account_id, []).append(contact.pk)
    with timestamps_as_given(*MODELS):
        opps, lines, paths = deals.opportunities(
            accounts, contacts_by_account, opportunities, catalogue
        )
        bulk(Opportunity, opps)
        result.opportunities = len(opps)
        items = []
        for index, opp_lines in lines.items():
            for line in opp_lines:
                line.opportunity_id = opps[index].pk
                items.append(line)
        bulk(LineItem, items)
        result.line_items = len(items)
        changes = deals.stage_changes(paths)
        bulk(StageChange, changes)
        result.stage_changes = len(changes)
        demo.say(
            f"oportunidades: {result.opportunities:,}, líneas: {result.line_items:,}, "
            f"cambios de etapa: {result.stage_changes:,}"
        )
        opps_by_account: dict[int, list[int]] = {}
        for opp in opps:
            opps_by_account.setdefault(opp.account_id, []).append(opp.pk)
        result.activities = bulk_rows_iter(
            Activity,
            ACTIVITY_FIELDS,
            activity_rows(demo, contacts, {a.pk: a for a in accounts}, opps_by_account, activities),
        )
    last_contacted_update()
    demo.say(f"actividades: {result.activities:,}, último contacto actualizado")
    result.quotas = deals.quotas(opps)
    return result


def tiers_recompute(demo: Demo) -> None:
    """The A/B/C/D ranking recomputed from the won revenue now in the database (`seed_demo`
    calls it after the load, with the indexes back)."""
    started = time.perf_counter()
    summary = account_tiers_compute()
    details = ", ".join(f"{key}: {value}" for key, value in (summary or {}).items())
    demo.stdout.write(f"  clasificación A/B/C/D recalculada ({details}) ({since(started)})")
