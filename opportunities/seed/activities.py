"""The demo activities: visits, calls, meetings, e-mails, WhatsApp messages and tasks, mostly
done in the past year with an outcome, some planned for the next four weeks, a few overdue or
cancelled; and each account's and contact's "last contacted" from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from accounts.models import Account
from accounts.seed import AccountRow
from contacts.models import Contact
from contacts.seed import ContactRow
from crm.core.seeding import Demo
from opportunities.models import Activity, ActivityKind

ACTIVITY_KIND_WEIGHTS = {
    ActivityKind.VISIT: 26,
    ActivityKind.CALL: 30,
    ActivityKind.MEETING: 9,
    ActivityKind.EMAIL: 14,
    ActivityKind.WHATSAPP: 15,
    ActivityKind.TASK: 6,
}
ACTIVITY_DURATION = {
    ActivityKind.VISIT: (45, 120),
    ActivityKind.CALL: (5, 25),
    ActivityKind.MEETING: (30, 90),
    ActivityKind.EMAIL: (5, 15),
    ActivityKind.WHATSAPP: (5, 10),
    ActivityKind.TASK: (15, 60),
}
ACTIVITY_SUBJECTS = {
    ActivityKind.VISIT: [
        "Visita de seguimiento",
        "Visita comercial",
        "Presentación del catálogo",
        "Revisión de inventario en sitio",
        "Visita para levantar pedido",
        "Entrega de muestras",
        "Visita de cortesía",
    ],
    ActivityKind.CALL: [
        "Llamada de seguimiento",
        "Confirmar pedido",
        "Agendar visita",
        "Seguimiento a la cotización",
        "Aclaración de factura",
        "Llamada de presentación",
    ],
    ActivityKind.MEETING: [
        "Reunión con el área de compras",
        "Presentación de propuesta",
        "Negociación de condiciones",
        "Revisión trimestral de cuenta",
        "Demostración del producto",
    ],
    ActivityKind.EMAIL: [
        "Envío de cotización",
        "Envío de catálogo y lista de precios",
        "Seguimiento de propuesta",
        "Confirmación de pedido",
        "Envío de ficha técnica",
    ],
    ActivityKind.WHATSAPP: [
        "Mensaje de seguimiento",
        "Envío de fotos del producto",
        "Confirmar hora de entrega",
        "Recordatorio de visita",
    ],
    ActivityKind.TASK: [
        "Preparar cotización",
        "Actualizar datos fiscales",
        "Enviar muestras",
        "Revisar línea de crédito",
        "Dar de alta como proveedor",
    ],
}
ACTIVITY_OUTCOMES = [
    "Cliente interesado; pide cotización formal.",
    "Se levantó pedido; entrega la próxima semana.",
    "Sin necesidades por ahora; volver a contactar el próximo mes.",
    "Reclamó un retraso en la última entrega; se escaló a logística.",
    "Pidió descuento por volumen; revisar con el gerente.",
    "Confirmó la recepción de la cotización; decide en dos semanas.",
    "No contestó; se dejó mensaje.",
    "Acordamos una demostración con el equipo técnico.",
    "El comprador cambió; se presentó al nuevo responsable.",
    "Aprobaron el presupuesto; falta la orden de compra.",
    "Solicitó ficha técnica y certificados de calidad.",
    "Visita productiva: se revisaron consumos y se propuso reabastecimiento.",
]
# Of every 100 activities: done in the past year, planned ahead (next 4 weeks), planned but
# overdue (past 2 weeks), cancelled. With the §4 volume (300,000) and five sellers, even 4 %
# planned ahead is some 120 a day per seller: the agenda must cope with full weeks.
ACTIVITY_STATUS_WEIGHTS = {"done": 92, "planned": 4, "overdue": 1, "cancelled": 3}
ACTIVITY_OPPORTUNITY_SHARE = 0.35

# The columns of a seeded activity, in the order the generator yields them.
ACTIVITY_FIELDS = (
    "kind",
    "status",
    "subject",
    "owner_id",
    "account_id",
    "contact_id",
    "opportunity_id",
    "planned_at",
    "duration_minutes",
    "place",
    "done_at",
    "outcome",
    "notes",
    "created_at",
    "updated_at",
    "reminder_sent_at",
    "cadence_period",
)


def activity_rows(
    demo: Demo,
    contacts: list[ContactRow],
    accounts: dict[int, AccountRow],
    opps_by_account: dict[int, list[int]],
    total: int,
) -> Iterator[tuple]:
    """`total` activities as rows of ACTIVITY_FIELDS, at contacts drawn at random (fewer at
    archived ones, more at those with an account). Owned by the account's owner (or the
    contact's, without one); some are about one of the account's `opps_by_account`.
    """
    rng = demo.rng
    if not contacts or not total:
        return
    weights = [(0.2 if c.archived else 1.0) * (2 if c.account_id else 1) for c in contacts]
    year_ago = demo.now - timedelta(days=365)
    done_planned = {ActivityKind.VISIT, ActivityKind.MEETING, ActivityKind.TASK}
    for contact in rng.choices(contacts, weights=weights, k=total):
        account = accounts.get(contact.account_id) if contact.account_id else None
        kind = demo.pick(ACTIVITY_KIND_WEIGHTS)
        state = demo.pick(ACTIVITY_STATUS_WEIGHTS)
        planned_at = done_at = None
        outcome = notes = ""
        if state == "done":
            done_at = demo.at_work(
                timezone.localdate(demo.when(max(year_ago, contact.created_at))),
                latest=demo.now,
            )
            if kind in done_planned or rng.random() < 0.3:
                planned_at = done_at - timedelta(minutes=rng.choice((0, 0, 0, 15, 30)))
            outcome = rng.choice(ACTIVITY_OUTCOMES)
            status = Activity.Status.DONE
            created = (planned_at or done_at) - timedelta(
                days=rng.randint(0, 10) if planned_at else 0, minutes=rng.randint(0, 30)
            )
            updated = done_at
        elif state == "planned":
            day = demo.today + timedelta(days=rng.randint(0, 27))
            planned_at = demo.at_work(day)
            if planned_at <= demo.now:
                planned_at += timedelta(days=1)
            status = Activity.Status.PLANNED
            created = demo.now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(1, 600))
            updated = created
        else:
            day = demo.today - timedelta(
                days=rng.randint(1, 14) if state == "overdue" else rng.randint(1, 365)
            )
            planned_at = demo.at_work(day, latest=demo.now)
            status = Activity.Status.PLANNED if state == "overdue" else Activity.Status.CANCELLED
            if state == "cancelled":
                notes = "Cancelada: el cliente pidió reprogramar."
            created = planned_at - timedelta(days=rng.randint(1, 20))
            updated = planned_at
        opp_id = None
        if account is not None and rng.random() < ACTIVITY_OPPORTUNITY_SHARE:
            candidates = opps_by_account.get(account.pk)
            if candidates:
                opp_id = rng.choice(candidates)
        low, high = ACTIVITY_DURATION[kind]
        # A row of ACTIVITY_FIELDS (no model instance: 300,000 of them cost seconds).
        yield (
            kind,
            status,
            rng.choice(ACTIVITY_SUBJECTS[kind]),
            account.owner_id if account is not None else contact.owner_id,
            account.pk if account is not None else None,
            # A few account-level tasks name no one in particular.
            None
            if account is not None and kind == ActivityKind.TASK and rng.random() < 0.3
            else contact.pk,
            opp_id,
            planned_at,
            rng.randint(low, high),
            f"Oficinas del cliente, {account.city}"
            if account is not None and kind in (ActivityKind.VISIT, ActivityKind.MEETING)
            else "",
            done_at,
            outcome,
            notes,
            created,
            updated,
            None,
            "",
        )


def last_contacted_update() -> None:
    """Accounts' and contacts' "last contacted" = their latest done activity.

    One UPDATE … FROM per table on PostgreSQL; elsewhere a correlated subquery (portable).
    """
    done = Activity.Status.DONE
    if connection.vendor == "postgresql":
        activity = connection.ops.quote_name(Activity._meta.db_table)
        with connection.cursor() as cursor:
            for model, column in ((Account, "account_id"), (Contact, "contact_id")):
                cursor.execute(
                    f"""
                    UPDATE {connection.ops.quote_name(model._meta.db_table)} AS t
                    SET last_contacted_at = x.latest
                    FROM (
                        SELECT {column} AS id, MAX(done_at) AS latest FROM {activity}
                        WHERE status = %s AND {column} IS NOT NULL GROUP BY {column}
                    ) AS x
                    WHERE t.id = x.id AND t.last_contacted_at IS DISTINCT FROM x.latest
                    """,
                    [done],
                )
        return
    for model, field in ((Account, "account"), (Contact, "contact")):
        latest = (
            Activity.objects.filter(**{field: OuterRef("pk")}, status=done)
            .order_by("-done_at")
            .values("done_at")[:1]
        )
        model.objects.filter(
            Exists(Activity.objects.filter(**{field: OuterRef("pk")}, status=done))
        ).update(last_contacted_at=Subquery(latest))
