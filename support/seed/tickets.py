"""The demo tickets, one at a time, and their numbering.

Each ticket's life is drawn first (when it was answered, waited for the customer, was resolved
and closed, in business time mostly within its targets), then replayed up to now through the
SLA service with the company's calendar and policies, so due times, pauses, breach flags and the
business minutes each reached target took are the ones the application would have computed.
Targets still running get their "vence pronto" and breach notices as already sent, so the SLA
check does not mail a backlog of seeded warnings.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from datetime import time as dtime

from django.conf import settings
from django.core.management.base import CommandError

from accounts.models import Status
from accounts.seed import AccountRow
from contacts.seed import ContactRow
from crm.core.seeding import Demo
from crm.core.text import search_text
from support.models import Comment, Priority, SlaNotice, Ticket, TicketCounter
from support.selectors.sla import FIELDS as SLA_FIELDS
from support.services.sla import (
    sla_mark_first_response,
    sla_mark_resolved,
    sla_pause,
    sla_resume,
    sla_setup_load,
    sla_start,
)
from support.services.tickets import ticket_number
from support.sla import add_business_minutes, business_minutes_between

TICKET_DAYS = 183  # tickets of the last six months
TICKET_CATEGORY_WEIGHTS = {
    Ticket.Category.INCIDENT: 40,
    Ticket.Category.QUESTION: 24,
    Ticket.Category.WARRANTY: 13,
    Ticket.Category.COMPLAINT: 12,
    Ticket.Category.CLAIM: 11,
}
TICKET_CHANNEL_WEIGHTS = {
    Ticket.Channel.PHONE: 34,
    Ticket.Channel.EMAIL: 30,
    Ticket.Channel.WHATSAPP: 16,
    Ticket.Channel.WEB: 14,
    Ticket.Channel.IN_PERSON: 6,
}
TICKET_PRIORITY_WEIGHTS = {
    Priority.LOW: 22,
    Priority.MEDIUM: 45,
    Priority.HIGH: 24,
    Priority.URGENT: 9,
}
TICKET_ACCOUNT_WEIGHT = {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0}
TICKET_STATUS_WEIGHT = {
    Status.ACTIVE: 3.0,
    Status.INACTIVE: 1.0,
    Status.POTENTIAL: 0.6,
    Status.PROSPECT: 0.3,
}
# Shares of tickets: first response late, resolution late (of the SLA target), waiting for
# the customer once, of those the customer never answers, never resolved (forgotten), closed
# some days after being resolved, opened by the account's rep rather than by support.
TICKET_FIRST_LATE = 0.15
TICKET_RESOLUTION_LATE = 0.2
TICKET_WAITING = 0.35
TICKET_NO_REPLY = 0.15
TICKET_STALLED = 0.03
TICKET_CLOSED = 0.9
TICKET_BY_REP = 0.08
TICKET_NOTE = 0.3
TICKET_FOLLOW_UP = 0.2

TICKET_SUBJECTS = {
    Ticket.Category.INCIDENT: [
        "La terminal punto de venta no enciende",
        "Error al timbrar facturas CFDI 4.0",
        "El lector de código de barras no responde",
        "La impresora térmica imprime en blanco",
        "No podemos entrar al sistema de inventarios",
        "El no-break pita y se apaga solo",
        "La báscula marca un peso incorrecto",
        "Falla la sincronización con la nube",
        "La cámara de seguridad de la bodega no da imagen",
        "El portal de clientes no carga las facturas",
        "El montacargas eléctrico no carga la batería",
    ],
    Ticket.Category.QUESTION: [
        "¿Cómo doy de alta a un usuario nuevo?",
        "Solicitud de estado de cuenta",
        "Horarios de entrega en temporada navideña",
        "¿Cuándo vence nuestra póliza de mantenimiento?",
        "Duda sobre la actualización de precios",
        "¿Cómo descargo las facturas del portal?",
        "Cambio de datos fiscales para facturar",
        "¿Tienen capacitación para el personal nuevo?",
    ],
    Ticket.Category.WARRANTY: [
        "Cambio por garantía de la impresora térmica",
        "Computadora portátil con falla de pantalla en garantía",
        "El patín hidráulico pierde aceite",
        "Regulador dañado a los dos meses de la compra",
        "Botas de seguridad con la suela despegada",
        "Terminal punto de venta con la pantalla táctil dañada",
    ],
    Ticket.Category.COMPLAINT: [
        "Retraso en la entrega del pedido",
        "El repartidor no quiso subir la mercancía",
        "Llevamos una semana sin respuesta",
        "Nos cobraron un flete que no correspondía",
        "El técnico no se presentó a la cita",
        "Mala atención en la sucursal",
    ],
    Ticket.Category.CLAIM: [
        "Pedido incompleto: faltan tres cajas",
        "Factura con importe incorrecto",
        "Producto dañado en el transporte",
        "Cargo duplicado en la tarjeta corporativa",
        "Nota de crédito pendiente desde hace un mes",
        "Nos enviaron un modelo distinto al pedido",
    ],
}
TICKET_DESCRIPTIONS = {
    Ticket.Category.INCIDENT: [
        "Desde esta mañana el equipo falla en la sucursal principal; ya lo reiniciaron sin éxito.",
        "El cliente indica que el problema empezó tras la última actualización.",
        "Afecta a las cajas del turno de la tarde; piden que se revise lo antes posible.",
    ],
    Ticket.Category.QUESTION: [
        "El cliente pide que le expliquemos el procedimiento por correo.",
        "Pregunta si hay algún costo adicional.",
        "Necesitan la información antes del cierre de mes.",
    ],
    Ticket.Category.WARRANTY: [
        "El equipo tiene menos de un año de uso; adjuntarán la factura de compra.",
        "Piden un equipo de reemplazo mientras se revisa el suyo.",
        "El cliente asegura que el uso fue normal.",
    ],
    Ticket.Category.COMPLAINT: [
        "El cliente está molesto y pide hablar con un responsable.",
        "Es la segunda vez que ocurre este mes.",
        "Pide una explicación por escrito.",
    ],
    Ticket.Category.CLAIM: [
        "Envían fotos del empaque y el número de pedido.",
        "Solicitan la corrección antes del pago a 30 días.",
        "Piden reposición o nota de crédito, lo que sea más rápido.",
    ],
}
TICKET_FIRST_REPLIES = [
    "Hola, gracias por avisarnos. Ya estamos revisando su caso y le escribimos en cuanto "
    "tengamos novedades.",
    "Buen día, recibimos su solicitud. Un técnico la está revisando y hoy mismo le damos "
    "seguimiento.",
    "Hola, lamentamos las molestias. Ya escalamos el caso al área correspondiente.",
]
TICKET_INFO_REQUESTS = [
    "Para continuar necesitamos el número de pedido y, si es posible, una foto del problema.",
    "¿Nos puede confirmar el número de serie del equipo? Lo encuentra en la etiqueta trasera.",
    "Necesitamos una copia de la factura para tramitar la garantía.",
]
TICKET_CUSTOMER_MESSAGES = [
    "Les envío la foto y el número de pedido.",
    "Ya lo probamos de nuevo y sigue igual.",
    "Adjunto la factura. Quedo atento.",
    "¿Hay alguna novedad? Lo necesitamos para esta semana.",
    "Gracias por la rápida respuesta.",
]
TICKET_NOTES = [
    "Revisé con almacén: el pedido salió incompleto.",
    "Escalado a logística; esperan respuesta del transportista.",
    "Cliente tier A: darle prioridad.",
    "El proveedor confirma que la pieza llega el jueves.",
    "Llamé al cliente y no contestó; lo intento mañana.",
]
TICKET_RESOLUTIONS = {
    Ticket.Category.INCIDENT: [
        "Se envió un técnico y se reemplazó la pieza dañada; el equipo funciona.",
        "Se restableció la configuración y se probó con el cliente por teléfono.",
        "Se corrigió el certificado de sello digital; las facturas timbran de nuevo.",
    ],
    Ticket.Category.QUESTION: [
        "Se explicó el procedimiento por teléfono y se envió la guía por correo.",
        "Se envió la información solicitada.",
    ],
    Ticket.Category.WARRANTY: [
        "Se cambió el equipo por uno nuevo dentro de la garantía.",
        "Se reparó en taller sin costo y se devolvió al cliente.",
    ],
    Ticket.Category.COMPLAINT: [
        "Se ofreció una disculpa y se reprogramó la entrega con prioridad.",
        "Se habló con el responsable del área y se acordó un seguimiento semanal.",
    ],
    Ticket.Category.CLAIM: [
        "Se emitió una nota de crédito por el importe cobrado de más.",
        "Se reenvió el material faltante sin costo de flete.",
        "Se refacturó con el importe correcto.",
    ],
}
TICKET_NO_REPLY_RESOLUTION = (
    "Se cierra por falta de respuesta del cliente tras varios recordatorios."
)


class TicketMaker:
    """Draws tickets with the company's SLA setup, assigned to the support users (or, without
    any, the administrators)."""

    def __init__(self, demo: Demo, *, agents: list[int]) -> None:
        self.demo = demo
        self.rng = demo.rng
        self.now = demo.now
        self.setup = sla_setup_load()
        self.calendar = self.setup.calendar
        self.company_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.agents = agents
        if not self.agents:
            raise CommandError("No hay usuarios de soporte ni administradores a quien asignar.")

    def created_at(self) -> datetime:
        """When the customer got in touch: mostly recent, mostly in office hours."""
        rng = self.rng
        moment = self.now - timedelta(days=TICKET_DAYS * rng.random() ** 1.7)
        if rng.random() < 0.8:
            day = self.calendar.local_date(moment)
            while self.calendar.is_day_off(day) and rng.random() < 0.85:
                day -= timedelta(days=1)
            office = datetime.combine(
                day, dtime(rng.randint(8, 18), rng.randrange(60)), tzinfo=self.calendar.zone
            )
            if self.now - timedelta(days=TICKET_DAYS) <= office <= self.now:
                moment = office
        return moment.replace(microsecond=0)

    def minutes(self, target: int, late_share: float) -> int:
        """Business minutes a target took: within it mostly, sometimes late."""
        if self.rng.random() < late_share:
            return max(1, round(target * self.rng.uniform(1.05, 2.5)))
        return max(1, round(target * self.rng.uniform(0.05, 0.95)))

    def ticket(self, account: AccountRow, contacts: list[ContactRow]) -> Ticket:
        rng, calendar, add = self.rng, self.calendar, add_business_minutes
        category = self.demo.pick(TICKET_CATEGORY_WEIGHTS)
        priority = self.demo.pick(TICKET_PRIORITY_WEIGHTS)
        channel = self.demo.pick(TICKET_CHANNEL_WEIGHTS)
        contact = rng.choice(contacts) if contacts and rng.random() < 0.92 else None
        policy = self.setup.policy(priority)
        first_target = policy.first_response if policy else 240
        resolution_target = policy.resolution if policy else 1620
        created = self.created_at()
        agent = rng.choice(self.agents)
        by_rep = rng.random() < TICKET_BY_REP
        if by_rep:
            channel = rng.choice([Ticket.Channel.PHONE, Ticket.Channel.IN_PERSON])

        # The life of the ticket, drawn in full (some of it may still lie ahead of now).
        first_minutes = self.minutes(first_target, TICKET_FIRST_LATE)
        budget = max(self.minutes(resolution_target, TICKET_RESOLUTION_LATE), first_minutes + 15)
        first_at = add(calendar, created, first_minutes)
        paused = resumed = None
        no_reply = False
        if rng.random() < TICKET_WAITING:
            gap = rng.randint(5, 180)
            if first_minutes + gap < budget:
                paused = add(calendar, first_at, gap)
                if rng.random() < TICKET_NO_REPLY:
                    no_reply = True
                else:
                    resumed = paused + timedelta(hours=rng.uniform(2, 168))
        if paused is None:
            resolved = add(calendar, created, budget)
        elif no_reply:
            resolved = paused + timedelta(days=rng.uniform(7, 10))
        else:
            spent = business_minutes_between(calendar, created, paused)
            resolved = add(calendar, resumed, max(1, budget - spent))
        if rng.random() < TICKET_STALLED:
            resolved = None  # forgotten: open (and late) until someone notices
        closed = resolved + timedelta(days=rng.uniform(2, 7)) if resolved else None
        if closed is not None and rng.random() > TICKET_CLOSED:
            closed = None

        ticket = Ticket(
            account_id=account.pk,
            contact_id=contact.pk if contact else None,
            subject=rng.choice(TICKET_SUBJECTS[category]),
            description=rng.choice(TICKET_DESCRIPTIONS[category]),
            category=category,
            channel=channel,
            priority=priority,
            status=Ticket.Status.NEW,
            assignee_id=agent,
            created_by_id=account.owner_id if by_rep else agent,
            created_at=created,
        )
        ticket.seed_contact = contact
        history = [(created, "", Ticket.Status.NEW, ticket.created_by_id, "")]
        comments: list[tuple] = []
        sla_start(ticket, now=created, setup=self.setup)

        # Replayed up to now, as the services would have done it.
        last = created
        now = self.now
        if first_at <= now:
            ticket.first_response_at = first_at
            sla_mark_first_response(ticket, now=first_at, setup=self.setup)
            comments.append((first_at, Comment.Kind.REPLY, agent, rng.choice(TICKET_FIRST_REPLIES)))
            history.append((first_at, Ticket.Status.NEW, Ticket.Status.OPEN, agent, ""))
            ticket.status = Ticket.Status.OPEN
            last = first_at
            if rng.random() < TICKET_NOTE:
                noted = first_at + timedelta(minutes=rng.randint(10, 600))
                if noted <= now and (resolved is None or noted < resolved):
                    comments.append((noted, Comment.Kind.NOTE, agent, rng.choice(TICKET_NOTES)))
        if paused is not None and paused <= now:
            sla_pause(ticket, now=paused, setup=self.setup)
            comments.append((paused, Comment.Kind.REPLY, agent, rng.choice(TICKET_INFO_REQUESTS)))
            history.append((paused, ticket.status, Ticket.Status.WAITING, agent, ""))
            ticket.status, last = Ticket.Status.WAITING, paused
            if resumed is not None and resumed <= now:
                sla_resume(ticket, now=resumed, setup=self.setup)
                comments.append(
                    (resumed, Comment.Kind.CUSTOMER, None, rng.choice(TICKET_CUSTOMER_MESSAGES))
                )
                history.append(
                    (
                        resumed,
                        Ticket.Status.WAITING,
                        Ticket.Status.OPEN,
                        None,
                        "Respuesta del cliente",
                    )
                )
                ticket.status, last = Ticket.Status.OPEN, resumed
        elif paused is None and first_at <= now and rng.random() < TICKET_FOLLOW_UP:
            asked = first_at + timedelta(hours=rng.uniform(1, 30))
            if asked <= now and (resolved is None or asked < resolved):
                comments.append(
                    (asked, Comment.Kind.CUSTOMER, None, rng.choice(TICKET_CUSTOMER_MESSAGES))
                )
                last = max(last, asked)
        if resolved is not None and resolved <= now and ticket.status != Ticket.Status.NEW:
            if ticket.status == Ticket.Status.WAITING:
                sla_resume(ticket, now=resolved, setup=self.setup)
            text = (
                TICKET_NO_REPLY_RESOLUTION if no_reply else rng.choice(TICKET_RESOLUTIONS[category])
            )
            ticket.resolution = text
            ticket.resolved_at = resolved
            sla_mark_resolved(ticket, now=resolved, setup=self.setup)
            comments.append((resolved, Comment.Kind.REPLY, agent, text))
            history.append((resolved, ticket.status, Ticket.Status.RESOLVED, agent, ""))
            ticket.status, last = Ticket.Status.RESOLVED, resolved
            if closed is not None and closed <= now:
                ticket.closed_at = closed
                history.append((closed, Ticket.Status.RESOLVED, Ticket.Status.CLOSED, agent, ""))
                ticket.status, last = Ticket.Status.CLOSED, closed
        if ticket.status == Ticket.Status.NEW and rng.random() < 0.5:
            ticket.assignee_id = None  # waiting in the unassigned queue
        ticket.updated_at = max([last, *(comment[0] for comment in comments)])
        ticket.seed_history = history
        ticket.seed_comments = comments
        ticket.seed_notices = self.notices(ticket)
        return ticket

    def keep_a_queue(self, tickets: list[Ticket]) -> None:
        """Half the new tickets wait unassigned, drawn ticket by ticket; where the draw left
        none of them (a handful are new, at some hours), the newest waits, so the demo's
        unassigned queue is not empty while tickets are new. `tickets` in order of creation.
        Draws nothing: the rest of the data stays as the seed makes it."""
        new = [ticket for ticket in tickets if ticket.status == Ticket.Status.NEW]
        if new and all(ticket.assignee_id is not None for ticket in new):
            new[-1].assignee_id = None

    def notices(self, ticket: Ticket) -> list[tuple]:
        """Flag the running targets now overdue, as the SLA check would have, and record the
        notices it would have sent: (target, kind, at)."""
        if ticket.status not in (Ticket.Status.NEW, Ticket.Status.OPEN):
            return []
        found = []
        for target, (due_field, warn_field, _left, breached_field) in SLA_FIELDS.items():
            due, warn = getattr(ticket, due_field), getattr(ticket, warn_field)
            if due is not None and due < self.now:
                setattr(ticket, breached_field, True)
                found.append((target, SlaNotice.Kind.BREACH, due))
            elif warn is not None and warn <= self.now:
                found.append((target, SlaNotice.Kind.WARNING, warn))
        return found

    # -- numbering --------------------------------------------------------------------------

    def number(self, tickets: list[Ticket]) -> None:
        """INC-YYYY-NNNNNN in order of creation, per company year, after TicketCounter's last;
        the counters move on so that the next ticket opened in the application follows."""
        years: dict[int, list[Ticket]] = {}
        for ticket in tickets:
            years.setdefault(ticket.created_at.astimezone(self.company_zone).year, []).append(
                ticket
            )
        for year, group in years.items():
            counter, _created = TicketCounter.objects.select_for_update().get_or_create(year=year)
            for sequence, ticket in enumerate(group, start=counter.last + 1):
                ticket.number = ticket_number(year=year, sequence=sequence)
                ticket.search_text = search_text(ticket.number, ticket.subject)
            counter.last += len(group)
            counter.save(update_fields=["last"])
