"""Demo data: users of every role, teams, accounts, contacts, tags, the consent ledger, and the
sales data (products, exchange rates, opportunities with stage history and lines, activities,
quotas; "last contacted" from the activities; tiers recomputed if their service exists), and the
support data (tickets with their status history, conversation and SLA clock as the SLA engine
computes it, CSAT and NPS answers, each answering contact's satisfaction class).

`make run` loads it once (`--if-empty`) so a new user logs in to a living CRM, and `make bench`
uses it to build the 100,000 contacts of DESIGN.md §4. Speed matters for the latter, so Faker
is only used to fill small pools of names and streets, which are then combined with one seeded
`random.Random`. Rows are written in batches of 5,000: `bulk_create` on SQLite, COPY on
PostgreSQL, where a big load also rebuilds the secondary indexes once at the end instead of
updating them row by row. Historical records are not written for seeded rows. `--only-sales`
adds just the sales data to the accounts and contacts already there (what `make bench` does to a
database built before the sales module); `--only-support`, just the support data.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
import random
import time
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from faker import Faker
from stdnum.es import cif as es_cif
from stdnum.mx import rfc as mx_rfc
from taggit.models import Tag, TaggedItem

from accounts.models import Account, Industry, Relationship, Size, Status, Tier
from campaigns.models import Send, Suppression, TrackingEvent
from campaigns.seed import CampaignSeed, seed_campaigns
from contacts.models import Consent, ConsentLatest, Contact, LeadSource, Lifecycle
from contacts.services import consent_latest_rebuild
from crm.core.models import Role, Team
from crm.core.text import fold, search_text
from opportunities.models import (
    Activity,
    ActivityKind,
    Currency,
    ExchangeRate,
    ForecastCategory,
    LineItem,
    Opportunity,
    Product,
    Quota,
    Stage,
    StageChange,
)
from opportunities.money import CENT, line_totals
from support.models import (
    Comment,
    ContactSatisfaction,
    Priority,
    SlaNotice,
    StatusChange,
    Survey,
    SurveyRound,
    Ticket,
    TicketCounter,
)
from support.services.sla import FIELDS as SLA_FIELDS
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

DEMO_PASSWORD = "demo1234"
BATCH_SIZE = 5000
BIG_LOAD = 10_000  # rows from which indexes are rebuilt rather than updated (PostgreSQL)
RATE_PLACES = Decimal("0.00000001")

# username, first name, last name, role, team (None: no team), superuser
DEMO_USERS = [
    ("admin", "Adriana", "Torres Villalobos", Role.ADMINISTRADOR, None, True),
    ("gerente1", "Ricardo", "Fuentes Garza", Role.GERENTE, "Ventas Norte", False),
    ("gerente2", "Patricia", "Ibarra Solís", Role.GERENTE, "Ventas Centro", False),
    ("vendedor1", "Laura", "Méndez Ríos", Role.VENDEDOR, "Ventas Norte", False),
    ("vendedor2", "Jorge", "Castillo Peña", Role.VENDEDOR, "Ventas Norte", False),
    ("vendedor3", "Sofía", "Ramírez Olvera", Role.VENDEDOR, "Ventas Centro", False),
    ("soporte1", "Daniel", "Ortega Lara", Role.SOPORTE, None, False),
    ("soporte2", "Lucía", "Herrera Campos", Role.SOPORTE, None, False),
    ("marketing1", "Valeria", "Cruz Navarro", Role.MARKETING, None, False),
]

# city, region, phone area code, postal code range, weight
MX_CITIES = [
    ("Ciudad de México", "Ciudad de México", "55", (1000, 16999), 30),
    ("Naucalpan de Juárez", "Estado de México", "55", (53000, 53990), 4),
    ("Tlalnepantla de Baz", "Estado de México", "55", (54000, 54199), 3),
    ("Guadalajara", "Jalisco", "33", (44100, 44990), 14),
    ("Zapopan", "Jalisco", "33", (45010, 45239), 5),
    ("Monterrey", "Nuevo León", "81", (64000, 64990), 14),
    ("San Pedro Garza García", "Nuevo León", "81", (66200, 66299), 4),
    ("Puebla", "Puebla", "222", (72000, 72599), 4),
    ("Querétaro", "Querétaro", "442", (76000, 76249), 4),
    ("León", "Guanajuato", "477", (37000, 37699), 3),
    ("Mérida", "Yucatán", "999", (97000, 97399), 3),
    ("Tijuana", "Baja California", "664", (22000, 22699), 3),
    ("Chihuahua", "Chihuahua", "614", (31000, 31459), 2),
    ("Cancún", "Quintana Roo", "998", (77500, 77599), 2),
]
# city, province, landline prefix, postal code range, weight; the CIF's province code is the
# first two digits of the postal code.
ES_CITIES = [
    ("Madrid", "Madrid", "91", (28001, 28055), 30),
    ("Barcelona", "Barcelona", "93", (8001, 8042), 22),
    ("Valencia", "Valencia", "96", (46001, 46026), 10),
    ("Sevilla", "Sevilla", "95", (41001, 41020), 8),
    ("Bilbao", "Bizkaia", "944", (48001, 48015), 6),
    ("Zaragoza", "Zaragoza", "976", (50001, 50021), 5),
    ("Málaga", "Málaga", "952", (29001, 29018), 5),
]
SPAIN_SHARE = 0.1

INDUSTRY_WEIGHTS = {
    Industry.RETAIL: 15,
    Industry.MANUFACTURING: 14,
    Industry.SERVICES: 12,
    Industry.FOOD: 10,
    Industry.CONSTRUCTION: 8,
    Industry.TECHNOLOGY: 8,
    Industry.TRANSPORT: 7,
    Industry.HEALTH: 6,
    Industry.HOSPITALITY: 5,
    Industry.AGRO: 4,
    Industry.EDUCATION: 3,
    Industry.FINANCE: 3,
    Industry.ENERGY: 2,
    Industry.PUBLIC: 2,
    Industry.OTHER: 1,
}
NAME_PREFIXES = {
    Industry.AGRO: ["Agrícola", "Agroindustrias", "Granjas", "Invernaderos", "Productores"],
    Industry.CONSTRUCTION: ["Constructora", "Edificaciones", "Materiales", "Ingeniería Civil"],
    Industry.EDUCATION: ["Colegio", "Instituto", "Centro Educativo", "Academia"],
    Industry.ENERGY: ["Energía Solar", "Gas", "Soluciones Energéticas", "Eléctrica"],
    Industry.FINANCE: ["Financiera", "Arrendadora", "Asesores Financieros", "Caja"],
    Industry.FOOD: ["Alimentos", "Panificadora", "Lácteos", "Embotelladora", "Cafés"],
    Industry.HEALTH: ["Laboratorios", "Clínica", "Farmacias", "Hospital", "Equipo Médico"],
    Industry.HOSPITALITY: ["Hotel", "Hoteles", "Viajes", "Restaurante"],
    Industry.MANUFACTURING: ["Manufacturas", "Industrias", "Plásticos", "Textiles", "Empaques"],
    Industry.PUBLIC: [],  # named after their city
    Industry.RETAIL: ["Comercializadora", "Distribuidora", "Tiendas", "Ferretería", "Papelería"],
    Industry.SERVICES: ["Consultores", "Despacho", "Asesoría", "Servicios Integrales"],
    Industry.TECHNOLOGY: ["Tecnologías", "Sistemas", "Software", "Soluciones Digitales"],
    Industry.TRANSPORT: ["Transportes", "Logística", "Fletes", "Mensajería", "Almacenes"],
    Industry.OTHER: ["Grupo", "Corporativo", "Empresas"],
}
BRANDS = ["Nova", "Alfa", "Delta", "Omega", "Vértice", "Cima", "Áurea", "Atlas", "Sol", "Faro"]
MX_BRANDS = ["Azteca", "Maya", "Tenochtitlan", "Huasteca", "Anáhuac"]
MX_REGIONAL = ["del Norte", "del Bajío", "del Pacífico", "del Golfo", "Peninsular", "del Centro"]
ES_REGIONAL = ["del Mediterráneo", "Ibérica", "del Cantábrico", "Levantina", "del Sur"]
MX_LEGAL = ["S.A. de C.V.", "S.A. de C.V.", "S. de R.L. de C.V.", "S.A.P.I. de C.V.", "S.C."]
ES_LEGAL = [("S.L.", "B"), ("S.L.", "B"), ("S.L.U.", "B"), ("S.A.", "A")]
# Words a company's RFC skips when it takes its initials.
RFC_SKIP = {"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y", "E", "SA", "CV", "SC", "RL", "SAPI"}

STATUS_WEIGHTS = {Status.ACTIVE: 45, Status.PROSPECT: 25, Status.POTENTIAL: 15, Status.INACTIVE: 15}
TIER_BY_STATUS = {  # Pareto-like overall: few A, many D
    Status.ACTIVE: {Tier.A: 12, Tier.B: 25, Tier.C: 35, Tier.D: 28},
    Status.INACTIVE: {Tier.B: 5, Tier.C: 30, Tier.D: 65},
    Status.PROSPECT: {Tier.C: 3, Tier.D: 97},
    Status.POTENTIAL: {Tier.C: 8, Tier.D: 92},
}
SIZE_BY_TIER = {
    Tier.A: {Size.LARGE: 50, Size.MEDIUM: 40, Size.SMALL: 10},
    Tier.B: {Size.LARGE: 25, Size.MEDIUM: 50, Size.SMALL: 25},
    Tier.C: {Size.LARGE: 8, Size.MEDIUM: 37, Size.SMALL: 55},
    Tier.D: {Size.LARGE: 4, Size.MEDIUM: 26, Size.SMALL: 70},
}
RELATIONSHIP_WEIGHTS = {
    Relationship.CUSTOMER: 60,
    Relationship.DISTRIBUTOR: 12,
    Relationship.RETAILER: 12,
    Relationship.WHOLESALER: 8,
    Relationship.PARTNER: 8,
}
LIFECYCLE_BY_STATUS = {
    Status.ACTIVE: {Lifecycle.CUSTOMER: 80, Lifecycle.SQL: 10, Lifecycle.MQL: 5, Lifecycle.LEAD: 5},
    Status.INACTIVE: {Lifecycle.INACTIVE: 85, Lifecycle.CUSTOMER: 10, Lifecycle.LEAD: 5},
    Status.PROSPECT: {
        Lifecycle.LEAD: 55,
        Lifecycle.MQL: 25,
        Lifecycle.SUBSCRIBER: 15,
        Lifecycle.SQL: 5,
    },
    Status.POTENTIAL: {Lifecycle.SQL: 40, Lifecycle.MQL: 35, Lifecycle.LEAD: 25},
    None: {Lifecycle.SUBSCRIBER: 45, Lifecycle.LEAD: 35, Lifecycle.MQL: 15, Lifecycle.SQL: 5},
}
SCORE_RANGE = {
    Lifecycle.SUBSCRIBER: (0, 30),
    Lifecycle.LEAD: (10, 55),
    Lifecycle.MQL: (50, 85),
    Lifecycle.SQL: (60, 95),
    Lifecycle.CUSTOMER: (40, 100),
    Lifecycle.INACTIVE: (0, 40),
}
SOURCE_WEIGHTS = {
    LeadSource.WEB: 25,
    LeadSource.REFERRAL: 18,
    LeadSource.EVENT: 12,
    LeadSource.COLD_CALL: 10,
    LeadSource.SOCIAL: 10,
    LeadSource.EMAIL: 8,
    LeadSource.ADS: 7,
    LeadSource.PARTNER: 6,
    LeadSource.OTHER: 4,
}
JOB_TITLES = [
    "Director General",
    "Directora de Compras",
    "Gerente de Compras",
    "Jefe de Almacén",
    "Contador",
    "Contadora General",
    "Director de Operaciones",
    "Coordinadora de Logística",
    "Asistente de Dirección",
    "Gerente de Ventas",
    "Responsable de TI",
    "Director Financiero",
    "Encargado de Mantenimiento",
    "Gerente de Planta",
    "Jefa de Recursos Humanos",
    "Comprador",
    "Analista de Compras",
    "Propietario",
    "Socia Directora",
    "Gerente Regional",
]
ACCOUNT_TAGS = [
    "VIP",
    "Exportador",
    "Licitaciones",
    "Crédito 30 días",
    "Crédito 60 días",
    "Pago puntual",
    "Distribuidor autorizado",
    "Cliente nuevo",
    "Zona norte",
    "Zona centro",
    "Zona bajío",
    "Renovación anual",
]
CONTACT_TAGS = [
    "Decisor",
    "Influenciador",
    "Usuario final",
    "Boletín",
    "Webinar",
    "Expo 2025",
    "Recomendado",
    "Técnico",
    "Compras",
]
ACCOUNT_NOTES = [
    "Prefiere que lo visiten los martes por la mañana.",
    "Pide factura con complemento de pago.",
    "Compra fuerte en temporada navideña.",
    "Solicitó catálogo actualizado y lista de precios.",
    "Condiciones de pago: 30 días fecha factura.",
    "Interesados en ampliar la línea de productos el próximo trimestre.",
]
MX_FREE_MAIL = ["gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx", "prodigy.net.mx"]
ES_FREE_MAIL = ["gmail.com", "hotmail.es", "outlook.es", "yahoo.es", "telefonica.net"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
]
CONSENT_TEXT_VERSIONS = ["aviso-privacidad-2023-v1", "aviso-privacidad-2024-v2"]
CONSENT_SOURCES = {
    Consent.Source.FORM: 40,
    Consent.Source.IMPORT: 20,
    Consent.Source.IN_PERSON: 15,
    Consent.Source.PHONE: 10,
    Consent.Source.EMAIL: 15,
}


# -- sales data (opportunities, activities, quotas) --------------------------------------------

# sku, name, price in MXN (before IVA), quantity range of a typical order
PRODUCTS = [
    ("SRV-001", "Póliza de mantenimiento preventivo anual", "48500.00", (1, 3)),
    ("SRV-002", "Póliza de mantenimiento correctivo (bolsa de 20 horas)", "18900.00", (1, 4)),
    ("SRV-003", "Instalación y puesta en marcha", "12500.00", (1, 3)),
    ("SRV-004", "Capacitación en sitio (jornada de 8 horas)", "9800.00", (1, 5)),
    ("SRV-005", "Consultoría de procesos (hora)", "1650.00", (8, 80)),
    ("SRV-006", "Soporte técnico remoto mensual", "3900.00", (3, 12)),
    ("SRV-007", "Levantamiento y diagnóstico inicial", "7500.00", (1, 2)),
    ("SRV-008", "Flete local Ciudad de México y zona metropolitana", "2800.00", (1, 10)),
    ("SRV-009", "Flete foráneo (por tarima)", "1450.00", (2, 40)),
    ("SRV-010", "Almacenaje mensual (por posición de tarima)", "650.00", (10, 200)),
    ("SRV-011", "Calibración de equipo de medición", "2350.00", (1, 20)),
    ("SRV-012", "Auditoría de seguridad e higiene", "22000.00", (1, 2)),
    ("LIC-001", "Licencia de software de inventarios (usuario/año)", "4200.00", (3, 50)),
    ("LIC-002", "Licencia de punto de venta (caja/año)", "3600.00", (2, 30)),
    ("LIC-003", "Módulo de facturación electrónica CFDI 4.0 (año)", "8900.00", (1, 3)),
    ("LIC-004", "Hospedaje en la nube (plan empresarial, mes)", "2450.00", (6, 12)),
    ("EQP-001", 'Terminal punto de venta táctil 15"', "18700.00", (1, 12)),
    ("EQP-002", "Impresora térmica de tickets", "3450.00", (1, 15)),
    ("EQP-003", "Lector de código de barras inalámbrico", "2150.00", (2, 25)),
    ("EQP-004", "Báscula electrónica 150 kg", "6800.00", (1, 8)),
    ("EQP-005", "Regulador y no-break 1500 VA", "4100.00", (1, 20)),
    ("EQP-006", 'Computadora portátil empresarial 14"', "21500.00", (1, 20)),
    ("EQP-007", "Montacargas eléctrico (renta mensual)", "14500.00", (1, 6)),
    ("EQP-008", "Rack de almacenaje industrial (módulo)", "9200.00", (2, 40)),
    ("EQP-009", "Patín hidráulico 2.5 t", "7300.00", (1, 10)),
    ("EQP-010", "Cámara de seguridad IP con instalación", "3850.00", (4, 32)),
    ("MAT-001", "Caja de cartón corrugado doble (paquete de 100)", "1890.00", (5, 200)),
    ("MAT-002", "Película estirable para emplaye (rollo)", "385.00", (20, 400)),
    ("MAT-003", "Tarima de madera estándar 1.20 × 1.00 m", "295.00", (20, 500)),
    ("MAT-004", 'Etiqueta térmica 4 × 6" (rollo de 500)', "245.00", (10, 300)),
    ("MAT-005", "Guantes de nitrilo (caja de 100)", "189.00", (10, 400)),
    ("MAT-006", "Casco de seguridad con suspensión", "165.00", (10, 200)),
    ("MAT-007", "Chaleco reflejante de alta visibilidad", "120.00", (10, 300)),
    ("MAT-008", "Botas de seguridad con casquillo (par)", "890.00", (5, 150)),
    ("MAT-009", "Papel bond carta (caja de 10 paquetes)", "1120.00", (5, 100)),
    ("MAT-010", "Tóner láser de alto rendimiento", "1890.00", (2, 60)),
    ("MAT-011", "Desengrasante industrial (garrafa de 20 l)", "1350.00", (2, 80)),
    ("MAT-012", "Aceite hidráulico ISO 68 (cubeta de 19 l)", "1780.00", (2, 60)),
    ("MAT-013", "Bolsa de polietileno para empaque (millar)", "640.00", (5, 200)),
    ("MAT-014", "Cinta canela para embalaje (caja de 36)", "720.00", (5, 120)),
]
PRODUCT_TAX_MX = Decimal("16.00")
PRODUCT_TAX_ES = Decimal("21.00")
# Units of MXN per unit of the currency, around mid-2025; each month drifts a little.
RATES_TO_MXN = {
    "EUR": Decimal("21.40"),
    "USD": Decimal("18.90"),
    "COP": Decimal("0.0046"),
    "ARS": Decimal("0.0160"),
    "CLP": Decimal("0.0198"),
    "PEN": Decimal("5.20"),
}
RATE_MONTHS = 24

OPPORTUNITY_THEMES = [
    "Suministro anual de {product}",
    "Renovación de {product}",
    "Pedido trimestral de {product}",
    "Proyecto de equipamiento {city}",
    "Ampliación de sucursal {city}",
    "Contrato marco de servicios",
    "Licitación de {product}",
    "Reposición de inventario",
    "Migración a facturación electrónica",
    "Programa de mantenimiento {year}",
    "Compra consolidada {year}",
    "Piloto de {product}",
]
WON_REASONS = [
    "Mejor precio que la competencia",
    "Relación de confianza con el cliente",
    "Tiempo de entrega más corto",
    "Calidad del producto comprobada en la prueba piloto",
    "Condiciones de crédito a 60 días",
    "Servicio posventa y soporte local",
    "Recomendación de otro cliente",
]
LOST_REASONS = [
    "Precio",
    "Eligió a la competencia",
    "Sin presupuesto este año",
    "Proyecto cancelado por el cliente",
    "Tiempo de entrega",
    "No respondió a la propuesta",
    "Condiciones de crédito",
    "Compra centralizada en el corporativo",
]
OPPORTUNITY_NOTES = [
    "El cliente compara con dos proveedores más.",
    "Decide el director de compras; el usuario final ya dio el visto bueno.",
    "Pide entregas parciales mensuales.",
    "Presupuesto aprobado para el segundo semestre.",
    "Requiere alta como proveedor antes de emitir la orden de compra.",
]
# Chances (by the account's effective tier) that a deal whose close date has passed was won,
# or lost; the rest are still open and overdue. A accounts win more, so the Pareto ranking of
# won revenue roughly matches the seeded tiers.
PAST_OUTCOME = {"A": (0.58, 0.27), "B": (0.48, 0.34), "C": (0.38, 0.42), "D": (0.22, 0.55)}
ACCOUNT_DEAL_WEIGHT = {"A": 8.0, "B": 4.0, "C": 2.0, "D": 1.0}
STATUS_DEAL_WEIGHT = {
    Status.ACTIVE: 3.0,
    Status.POTENTIAL: 2.0,
    Status.PROSPECT: 1.5,
    Status.INACTIVE: 0.5,
}
# Typical deal size in MXN by company size (median; log-normal spread).
DEAL_MEDIAN = {Size.LARGE: 420_000, Size.MEDIUM: 140_000, Size.SMALL: 45_000}
TIER_DEAL_FACTOR = {"A": 2.2, "B": 1.4, "C": 1.0, "D": 0.7}
OPEN_STAGE_WEIGHTS = {1: 30, 2: 25, 3: 25, 4: 20}  # stage order → weight, for open deals
OVERDUE_STAGE_WEIGHTS = {1: 20, 2: 25, 3: 30, 4: 25}
STAGE_HISTORY_SHARE = 0.6
LINE_ITEMS_SHARE = {1: 0.1, 2: 0.25, 3: 0.7, 4: 0.8, 5: 0.6, 6: 0.35}  # by stage order

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
QUOTA_OVER_RUN_RATE = Decimal("1.15")  # quotas a bit above the rep's monthly won average

# -- support data (tickets, their conversation and SLA, surveys) -------------------------------

TICKET_DAYS = 183  # tickets of the last six months
TICKETS_PER_CONTACT = 5  # one ticket per five contacts: 20,000 per 100,000 (DESIGN.md §4)
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
CSAT_ANSWERED = 0.4
CSAT_SCORES = {5: 38, 4: 30, 3: 14, 2: 9, 1: 9}
CSAT_SCORES_BREACHED = {5: 14, 4: 24, 3: 24, 2: 18, 1: 20}
NPS_ROUNDS = ((150, "Encuesta NPS de primavera"), (45, "Encuesta NPS de otoño"))  # days ago
NPS_SHARE = 0.12  # of the contacts with an email, per round
NPS_ANSWERED = 0.35
NPS_SCORES = {10: 22, 9: 23, 8: 17, 7: 13, 6: 8, 5: 6, 4: 4, 3: 3, 2: 2, 1: 1, 0: 1}

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
CSAT_COMMENTS = {
    5: ["Excelente atención, muy rápidos.", "Resolvieron todo en una llamada. Gracias."],
    4: ["Buena atención, aunque tardaron un poco.", "Todo bien."],
    3: ["Se resolvió, pero tuve que insistir.", "Regular."],
    2: ["Tardaron demasiado en responder.", "Tuve que llamar varias veces."],
    1: ["Pésimo servicio, nadie daba razón.", "El problema sigue igual."],
}
NPS_COMMENTS = [
    "Buen producto y buen servicio posventa.",
    "Los precios podrían mejorar.",
    "Las entregas a veces se retrasan.",
    "Muy buena relación con el vendedor.",
]


@dataclass
class SeedResult:
    users: int = 0
    accounts: int = 0
    contacts: int = 0
    tagged_items: int = 0
    consents: int = 0
    products: int = 0
    rates: int = 0
    opportunities: int = 0
    line_items: int = 0
    stage_changes: int = 0
    activities: int = 0
    quotas: int = 0
    tickets: int = 0
    ticket_comments: int = 0
    status_changes: int = 0
    surveys: int = 0
    satisfaction: int = 0
    campaign_seed: CampaignSeed | None = None
    seconds: float = 0.0


class Pools:
    """Names and streets drawn once from Faker, then combined at random (Faker is slow)."""

    def __init__(self, seed: int) -> None:
        mx, es = Faker("es_MX"), Faker("es_ES")
        mx.seed_instance(seed)
        es.seed_instance(seed + 1)
        self.by_country = {}
        for country, fake in (("MX", mx), ("ES", es)):
            self.by_country[country] = {
                "female": sorted({fake.first_name_female() for _ in range(600)}),
                "male": sorted({fake.first_name_male() for _ in range(600)}),
                "last": sorted({fake.last_name() for _ in range(1500)}),
                "street": sorted({fake.street_name() for _ in range(2000)}),
            }


class Seeder:
    def __init__(self, *, seed: int, stdout, started: float) -> None:
        self.started = started
        self._weights: dict[int, tuple[list, list]] = {}
        self.rng = random.Random(seed)
        self.pools = Pools(seed)
        self.stdout = stdout
        self.now = timezone.now()
        self.emails: set[str] = set()
        self.tax_ids: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------

    def pick(self, weights: dict):
        keys, cumulative = self._cumulative(id(weights), list(weights), weights.values())
        return self.rng.choices(keys, cum_weights=cumulative)[0]

    def city(self, country: str) -> tuple:
        table = ES_CITIES if country == "ES" else MX_CITIES
        rows, cumulative = self._cumulative(id(table), table, (row[-1] for row in table))
        return self.rng.choices(rows, cum_weights=cumulative)[0]

    def _cumulative(self, key: int, items: list, weights) -> tuple[list, list]:
        if key not in self._weights:
            self._weights[key] = (items, list(itertools.accumulate(weights)))
        return self._weights[key]

    def landline(self, country: str, area: str) -> str:
        return f"+{'34' if country == 'ES' else '52'}{area}" + self.digits(
            (9 if country == "ES" else 10) - len(area)
        )

    def mobile(self, country: str, area: str) -> str:
        if country == "ES":
            return "+346" + self.digits(8)
        return f"+52{area}" + self.digits(10 - len(area))

    def digits(self, n: int) -> str:
        return str(self.rng.randrange(10**n)).zfill(n)

    def street(self, country: str) -> str:
        name = self.rng.choice(self.pools.by_country[country]["street"])
        number = self.rng.randint(1, 2500 if country == "MX" else 180)
        if country == "ES":
            return f"{name}, {number}"
        if self.rng.random() < 0.3:
            return f"{name} {number} Int. {self.rng.randint(1, 40)}"
        return f"{name} {number}"

    def when(self, start: datetime, end: datetime | None = None) -> datetime:
        end = end or self.now
        span = max((end - start).total_seconds(), 1.0)
        # Skewed towards the recent past, as real CRMs grow.
        return start + timedelta(seconds=span * (self.rng.random() ** 0.6))

    def person_name(self, country: str) -> tuple[str, str]:
        pool = self.pools.by_country[country]
        first = self.rng.choice(pool["female" if self.rng.random() < 0.5 else "male"])
        last = self.rng.choice(pool["last"])
        if self.rng.random() < 0.75:  # two surnames, as people in Mexico and Spain write them
            last = f"{last} {self.rng.choice(pool['last'])}"
        return first, last

    def unique_email(self, local: str, domain: str) -> str:
        local = "".join(ch for ch in fold(local) if ch.isalnum() or ch in "._") or "contacto"
        email = f"{local}@{domain}"
        n = 2
        while email in self.emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.emails.add(email)
        return email

    # -- tax ids ---------------------------------------------------------------------------

    def rfc(self, name: str, founded: date) -> str:
        words = [w for w in fold(name).upper().replace(",", " ").split() if w not in RFC_SKIP]
        words = ["".join(ch for ch in w if "A" <= ch <= "Z") for w in words]
        words = [w for w in words if w] or ["XAX"]
        letters = "".join(w[0] for w in words[:3])
        letters = (letters + words[0][1:] + "XXX")[:3]
        while True:
            base = (
                letters
                + founded.strftime("%y%m%d")
                + self.rng.choice("123456789ABCDEFGHIJKLMNOPQRSTUV")
                + self.rng.choice("123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            )
            rfc = base + mx_rfc.calc_check_digit(base)
            if rfc not in self.tax_ids:
                self.tax_ids.add(rfc)
                return rfc

    def cif(self, letter: str, postal_code: str) -> str:
        while True:
            base = letter + postal_code[:2] + self.digits(5)
            digit, control_letter = es_cif.calc_check_digits(base)
            # Public bodies (P, Q, S…) carry a letter; companies (A, B) a digit.
            cif = base + (control_letter if letter in "PQS" else digit)
            if cif not in self.tax_ids:
                self.tax_ids.add(cif)
                return cif

    # -- users -----------------------------------------------------------------------------

    def users(self) -> dict[str, object]:
        User = get_user_model()
        password = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
        teams = {name: Team.objects.get_or_create(name=name)[0] for name in self._team_names()}
        users = {}
        for username, first, last, role, team, superuser in DEMO_USERS:
            user, _created = User.objects.update_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@demo.example.com",
                    "role": role,
                    "team": teams.get(team),
                    "is_superuser": superuser,
                    "is_staff": superuser,
                    "is_active": True,
                    "password": password,
                },
            )
            users[username] = user
        for name, team in teams.items():
            manager = next(
                users[u]
                for u, _f, _l, role, t, _s in DEMO_USERS
                if t == name and role == Role.GERENTE
            )
            if team.manager_id != manager.pk:
                team.manager = manager
                team.save(update_fields=["manager"])
        return users

    @staticmethod
    def _team_names() -> list[str]:
        return sorted({team for *_, team, _s in DEMO_USERS if team})

    # -- accounts --------------------------------------------------------------------------

    def account_name(self, industry: str, country: str, city: str) -> str:
        if industry == Industry.PUBLIC:
            return f"{'Ayuntamiento' if country == 'ES' else 'Municipio'} de {city}"
        prefix = self.rng.choice(NAME_PREFIXES[industry])
        last = self.rng.choice(self.pools.by_country[country]["last"])
        roll = self.rng.random()
        if roll < 0.5:
            return f"{prefix} {last}"
        if roll < 0.65:
            return f"{prefix} {last} {'Hermanos' if self.rng.random() < 0.5 else 'e Hijos'}"
        if roll < 0.8:
            regional = MX_REGIONAL if country == "MX" else ES_REGIONAL
            return f"{prefix} {self.rng.choice(regional)}"
        brands = BRANDS + (MX_BRANDS if country == "MX" else [])
        return f"{prefix} {self.rng.choice(brands)}"

    def build_account(self, owners: list[int]) -> Account:
        rng = self.rng
        country = "ES" if rng.random() < SPAIN_SHARE else "MX"
        city, region, area, (pc_lo, pc_hi), _w = self.city(country)
        postal_code = f"{rng.randint(pc_lo, pc_hi):05d}"
        industry = self.pick(INDUSTRY_WEIGHTS)
        status = self.pick(STATUS_WEIGHTS)
        tier = self.pick(TIER_BY_STATUS[status])
        name = self.account_name(industry, country, city)
        founded = date(1975, 1, 1) + timedelta(days=rng.randrange(17500))
        if country == "MX":
            legal_name = name if industry == Industry.PUBLIC else f"{name}, {rng.choice(MX_LEGAL)}"
            tax_id = self.rfc(legal_name, founded)
            tld = "gob.mx" if industry == Industry.PUBLIC else "com.mx"
        else:
            suffix, letter = ("", "P") if industry == Industry.PUBLIC else rng.choice(ES_LEGAL)
            legal_name = f"{name}, {suffix}" if suffix else name
            tax_id = self.cif(letter, postal_code)
            tld = "es"
        if status == Status.PROSPECT and rng.random() < 0.2:
            tax_id = ""  # prospects often have no tax data yet
        slug = "".join(ch for ch in fold(name) if ch.isalnum())[:40]
        domain = f"{slug}.{tld}"
        created = self.when(self.now - timedelta(days=5 * 365))
        account = Account(
            name=name,
            legal_name=legal_name,
            tax_id=tax_id,
            industry=industry,
            size=self.pick(SIZE_BY_TIER[tier]),
            relationship=self.pick(RELATIONSHIP_WEIGHTS),
            status=status,
            phone=self.landline(country, area) if rng.random() < 0.9 else "",
            website=f"https://www.{domain}" if rng.random() < 0.7 else "",
            email=f"{rng.choice(['contacto', 'ventas', 'compras', 'info'])}@{domain}"
            if rng.random() < 0.6
            else "",
            notes=rng.choice(ACCOUNT_NOTES) if rng.random() < 0.15 else "",
            owner_id=rng.choice(owners),
            tier_auto=tier,
            tier_override=rng.choice(Tier.values) if rng.random() < 0.02 else "",
            archived_at=self.when(created) if rng.random() < 0.01 else None,
            street=self.street(country),
            city=city,
            region=region,
            postal_code=postal_code,
            country=country,
            created_at=created,
            updated_at=self.when(created),
        )
        account._domain = domain  # for its contacts' e-mail addresses
        account._area = area
        account.refresh_search_fields()
        return account

    # -- contacts --------------------------------------------------------------------------

    def build_contact(self, account: Account | None, owners: list[int]) -> Contact:
        rng = self.rng
        if account is not None:
            country = account.country
            if rng.random() < 0.85:
                city, region, postal_code, area = (
                    account.city,
                    account.region,
                    account.postal_code,
                    account._area,
                )
            else:
                city, region, area, (lo, hi), _w = self.city(country)
                postal_code = f"{rng.randint(lo, hi):05d}"
            lifecycle = self.pick(LIFECYCLE_BY_STATUS[account.status])
            owner = account.owner_id if rng.random() < 0.9 else rng.choice(owners)
            created = self.when(account.created_at)
        else:
            country = "ES" if rng.random() < SPAIN_SHARE else "MX"
            city, region, area, (lo, hi), _w = self.city(country)
            postal_code = f"{rng.randint(lo, hi):05d}"
            lifecycle = self.pick(LIFECYCLE_BY_STATUS[None])
            owner = rng.choice(owners)
            created = self.when(self.now - timedelta(days=4 * 365))
        first, last = self.person_name(country)
        email = ""
        if rng.random() < 0.97:
            surname = last.split()[0]
            local = rng.choice(
                [
                    f"{first}.{surname}",
                    f"{first[0]}{surname}",
                    f"{first}{surname[0]}",
                    f"{first}_{surname}",
                ]
            ).replace(" ", "")
            if account is not None and rng.random() < 0.75:
                domain = account._domain
            else:
                domain = rng.choice(ES_FREE_MAIL if country == "ES" else MX_FREE_MAIL)
            email = self.unique_email(local, domain)
        low, high = SCORE_RANGE[lifecycle]
        birthday = None
        if rng.random() < 0.6:
            birthday = date(self.now.year - rng.randint(22, 66), 1, 1) + timedelta(
                days=rng.randrange(365)
            )
        contact = Contact(
            first_name=first,
            last_name=last,
            email=email,
            phone=self.landline(country, area)
            if account is not None and rng.random() < 0.6
            else "",
            mobile=self.mobile(country, area) if rng.random() < 0.85 else "",
            job_title=rng.choice(JOB_TITLES) if account is not None and rng.random() < 0.8 else "",
            account_id=account.pk if account is not None else None,
            owner_id=owner,
            lifecycle=lifecycle,
            lead_source=self.pick(SOURCE_WEIGHTS),
            lead_score=rng.randint(low, high),
            birthday=birthday,
            archived_at=self.when(created) if rng.random() < 0.01 else None,
            street=self.street(country) if rng.random() < 0.5 else "",
            city=city,
            region=region,
            postal_code=postal_code,
            country=country,
            created_at=created,
            updated_at=self.when(created),
        )
        contact.refresh_search_fields()
        return contact

    def build_consents(self, contact: Contact) -> list[Consent]:
        rng = self.rng
        customer = contact.lifecycle in (Lifecycle.CUSTOMER, Lifecycle.INACTIVE)
        if not contact.email or rng.random() > (0.8 if customer else 0.6):
            return []
        entries = []
        channels = [Consent.Channel.EMAIL]
        if contact.mobile and rng.random() < 0.3:
            channels.append(Consent.Channel.WHATSAPP)
        for channel in channels:
            source = self.pick(CONSENT_SOURCES)
            at = self.when(contact.created_at, contact.created_at + timedelta(days=30))
            at = min(at, self.now)
            form = source == Consent.Source.FORM
            entries.append(
                Consent(
                    contact_id=contact.pk,
                    channel=channel,
                    action=Consent.Action.GRANT,
                    at=at,
                    source=source,
                    legal_basis=Consent.LegalBasis.CONTRACT
                    if customer and rng.random() < 0.3
                    else Consent.LegalBasis.CONSENT,
                    text_version=rng.choice(CONSENT_TEXT_VERSIONS),
                    ip_address=self.ip(contact.country) if form else None,
                    user_agent=rng.choice(USER_AGENTS) if form else "",
                    recorded_by_id=contact.owner_id
                    if source in (Consent.Source.IN_PERSON, Consent.Source.PHONE)
                    else None,
                )
            )
            if rng.random() < 0.12:
                entries.append(
                    Consent(
                        contact_id=contact.pk,
                        channel=channel,
                        action=Consent.Action.WITHDRAW,
                        at=self.when(at),
                        source=Consent.Source.UNSUBSCRIBE
                        if channel == Consent.Channel.EMAIL
                        else Consent.Source.STAFF,
                        legal_basis=Consent.LegalBasis.CONSENT,
                        note="Solicitó no recibir más comunicaciones.",
                    )
                )
        return entries

    def ip(self, country: str) -> str:
        first = self.rng.choice([83, 88, 90] if country == "ES" else [187, 189, 201])
        rest = (self.rng.randint(0, 255), self.rng.randint(0, 255), self.rng.randint(1, 254))
        return ".".join(str(part) for part in (first, *rest))

    # -- tags ------------------------------------------------------------------------------

    def tags(self) -> dict[str, Tag]:
        found = {}
        for name in dict.fromkeys(ACCOUNT_TAGS + CONTACT_TAGS):
            tag = Tag.objects.filter(name__iexact=name).first()
            if tag is None:
                tag = Tag(name=name)
                tag.save()  # taggit makes the slug unique
            found[name] = tag
        return found

    def tagged_items(self, objs, names: list[str], tags: dict, share: float, most: int):
        content_type = ContentType.objects.get_for_model(type(objs[0])) if objs else None
        for obj in objs:
            if self.rng.random() < share:
                for name in self.rng.sample(names, self.rng.randint(1, most)):
                    yield TaggedItem(content_type=content_type, object_id=obj.pk, tag=tags[name])

    # -- the whole ---------------------------------------------------------------------------

    def run(
        self, *, contacts: int, accounts: int, opportunities: int, activities: int, tickets: int
    ) -> SeedResult:
        started = self.started
        result = SeedResult()
        self.emails = set(Contact.objects.exclude(email="").values_list("email", flat=True))
        self.tax_ids = set(Account.objects.exclude(tax_id="").values_list("tax_id", flat=True))
        users = self.users()
        result.users = len(users)
        # Reps own most of the portfolio; managers keep a few key accounts.
        owners = [u.pk for u in users.values() if u.role == Role.VENDEDOR] * 4 + [
            u.pk for u in users.values() if u.role == Role.GERENTE
        ]
        tags = self.tags()

        with _timestamps_as_given(Account, Contact):
            account_objs = [self.build_account(owners) for _ in range(accounts)]
            _bulk(Account, account_objs)
            result.accounts = len(account_objs)
            self.stdout.write(f"  cuentas: {result.accounts:,} ({_since(started)})")

            contact_objs = [
                self.build_contact(account, owners)
                for account in self.assign(account_objs, contacts)
            ]
            _bulk(Contact, contact_objs)
            result.contacts = len(contact_objs)
            self.stdout.write(f"  contactos: {result.contacts:,} ({_since(started)})")

        items = list(self.tagged_items(account_objs, ACCOUNT_TAGS, tags, 0.45, 3))
        items += list(self.tagged_items(contact_objs, CONTACT_TAGS, tags, 0.3, 2))
        _bulk(TaggedItem, items)
        result.tagged_items = len(items)

        consents = [e for c in contact_objs for e in self.build_consents(c)]
        _bulk(Consent, consents)
        consent_latest_rebuild()
        result.consents = len(consents)
        self.stdout.write(
            f"  etiquetas: {result.tagged_items:,}, consentimientos: {result.consents:,} "
            f"({_since(started)})"
        )
        account_rows = [
            AccountRow(
                a.pk,
                a.owner_id,
                a.country,
                a.status,
                a.size,
                a.effective_tier,
                a.name,
                a.city,
                a.created_at,
                a.archived_at is not None,
            )
            for a in account_objs
        ]
        contact_rows = [
            ContactRow(c.pk, c.account_id, c.owner_id, c.created_at, c.archived_at is not None)
            for c in contact_objs
        ]
        with _timestamps_as_given(*SALES_MODELS):
            SalesSeeder(self).run(
                result,
                account_rows,
                contact_rows,
                opportunities=opportunities,
                activities=activities,
            )
        support_contacts = [
            SupportContact(
                c.pk, c.account_id, c.full_name, bool(c.email), c.archived_at is not None
            )
            for c in contact_objs
        ]
        with _timestamps_as_given(*SUPPORT_MODELS):
            SupportSeeder(self).run(result, account_rows, support_contacts, tickets=tickets)
        return result

    def run_sales(self, *, opportunities: int | None, activities: int | None) -> SeedResult:
        """Only the sales data, for the accounts and contacts already in the database."""
        result = SeedResult()
        account_rows = self.existing_accounts()
        contact_rows = [
            ContactRow(*row[:-1], row[-1] is not None)
            for row in Contact.objects.order_by("pk").values_list(
                "pk", "account_id", "owner_id", "created_at", "archived_at"
            )
        ]
        self.stdout.write(
            f"  existentes: {len(account_rows):,} cuentas, {len(contact_rows):,} contactos "
            f"({_since(self.started)})"
        )
        with _timestamps_as_given(*SALES_MODELS):
            SalesSeeder(self).run(
                result,
                account_rows,
                contact_rows,
                opportunities=_default_opportunities(len(contact_rows))
                if opportunities is None
                else opportunities,
                activities=_default_activities(len(contact_rows))
                if activities is None
                else activities,
            )
        return result

    def run_support(self, *, tickets: int | None) -> SeedResult:
        """Only the support data (tickets, surveys), for the accounts and contacts already in
        the database."""
        result = SeedResult()
        account_rows = self.existing_accounts()
        contacts = [
            SupportContact(
                pk, account_id, f"{first} {last}".strip(), bool(email), archived is not None
            )
            for pk, account_id, first, last, email, archived in Contact.objects.order_by(
                "pk"
            ).values_list("pk", "account_id", "first_name", "last_name", "email", "archived_at")
        ]
        self.stdout.write(
            f"  existentes: {len(account_rows):,} cuentas, {len(contacts):,} contactos "
            f"({_since(self.started)})"
        )
        with _timestamps_as_given(*SUPPORT_MODELS):
            SupportSeeder(self).run(
                result,
                account_rows,
                contacts,
                tickets=_default_tickets(len(contacts)) if tickets is None else tickets,
            )
        return result

    @staticmethod
    def existing_accounts() -> list[AccountRow]:
        return [
            AccountRow(*row[:-1], row[-1] is not None)
            for row in Account.objects.order_by("pk").values_list(
                "pk",
                "owner_id",
                "country",
                "status",
                "size",
                "tier",
                "name",
                "city",
                "created_at",
                "archived_at",
            )
        ]

    def assign(self, accounts: list[Account], total: int) -> Iterator[Account | None]:
        """One to a handful of contacts per account (more at bigger ones); about one in nine
        contacts has no account."""
        if not accounts:
            yield from [None] * total
            return
        attached = min(total, max(len(accounts), round(total * 0.89)))
        weight = {Size.LARGE: 4, Size.MEDIUM: 2, Size.SMALL: 1}
        cap = {Size.LARGE: 8, Size.MEDIUM: 6, Size.SMALL: 4}
        counts = [1] * min(attached, len(accounts))
        capacity = sum(cap[a.size] for a in accounts)
        left = attached - len(counts)
        while left > 0:
            for i in self.rng.choices(
                range(len(accounts)), weights=[weight[a.size] for a in accounts], k=left
            ):
                # Caps keep it realistic; without room (a tiny --accounts) anything goes.
                if left and (counts[i] < cap[accounts[i].size] or attached > capacity):
                    counts[i] += 1
                    left -= 1
        # An account's contacts get neighbouring ids; with fewer contacts, the last get none.
        for account, n in zip(accounts, counts, strict=False):
            yield from [account] * n
        yield from [None] * (total - attached)


class AccountRow(NamedTuple):
    """What the sales data needs of an account (from the objects just built, or the database)."""

    pk: int
    owner_id: int
    country: str
    status: str
    size: str
    tier: str
    name: str
    city: str
    created_at: datetime
    archived: bool


class ContactRow(NamedTuple):
    pk: int
    account_id: int | None
    owner_id: int
    created_at: datetime
    archived: bool


class SalesSeeder:
    """Products, rates, opportunities (with stage history and lines), activities and quotas.

    Works on the accounts and contacts it is given: the ones `Seeder` just built, or (with
    `--only-sales`) every one already in the database. Opportunities belong to the account's
    owner; amounts are mostly in pesos, in euros for Spanish accounts, a few in dollars.
    """

    def __init__(self, seeder: Seeder) -> None:
        self.seeder = seeder
        self.rng = seeder.rng
        self.now = seeder.now
        self.tz = timezone.get_current_timezone()
        self.today = timezone.localdate(self.now)
        stages = list(Stage.objects.filter(pipeline__is_default=True).order_by("order"))
        if not stages:
            raise CommandError(
                "No hay embudo de ventas predeterminado (lo crea la migración opportunities 0002)."
            )
        self.pipeline_id = stages[0].pipeline_id
        self.open_stages = [s for s in stages if not s.is_won and not s.is_lost]
        self.won = next(s for s in stages if s.is_won)
        self.lost = next(s for s in stages if s.is_lost)

    # -- reference data ----------------------------------------------------------------------

    def products(self) -> tuple[list[Product], int]:
        existing = {p.sku: p for p in Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])}
        new = [
            Product(
                sku=sku,
                name=name,
                price=Decimal(price),
                currency=Currency.MXN,
                tax_rate=PRODUCT_TAX_MX,
                description="",
            )
            for sku, name, price, _q in PRODUCTS
            if sku not in existing
        ]
        Product.objects.bulk_create(new)
        catalogue = {p.sku: p for p in Product.objects.filter(sku__in=[p[0] for p in PRODUCTS])}
        return [catalogue[sku] for sku, *_ in PRODUCTS], len(new)

    def rates(self) -> int:
        """A rate per currency and month for the last two years, drifting back from today's."""
        existing = set(ExchangeRate.objects.values_list("currency", "valid_from"))
        first = self.today.replace(day=1)
        new = []
        for currency, base in RATES_TO_MXN.items():
            rate = base
            for months_ago in range(RATE_MONTHS):
                year, month = divmod(first.year * 12 + first.month - 1 - months_ago, 12)
                valid_from = date(year, month + 1, 1)
                if (currency, valid_from) not in existing:
                    new.append(
                        ExchangeRate(
                            currency=currency,
                            rate=rate.quantize(RATE_PLACES),
                            valid_from=valid_from,
                        )
                    )
                # Older months: a random walk, the peso a little stronger or weaker.
                rate = rate * Decimal(str(round(1 + self.rng.gauss(0, 0.015), 4)))
        ExchangeRate.objects.bulk_create(new)
        return len(new)

    # -- opportunities -----------------------------------------------------------------------

    def at_work(self, day: date, *, latest: datetime | None = None) -> datetime:
        """An office-hours moment of `day` (local time), no later than `latest`."""
        moment = datetime.combine(
            day, dtime(self.rng.randint(8, 18), self.rng.choice((0, 15, 30, 45))), tzinfo=self.tz
        )
        if latest is not None and moment > latest:
            moment = latest - timedelta(minutes=self.rng.randint(5, 240))
        return moment

    def opportunities(
        self,
        accounts: list[AccountRow],
        contacts_by_account: dict[int, list[int]],
        total: int,
        products: list[Product],
    ) -> tuple[list[Opportunity], dict[int, list], list[tuple[Opportunity, list[Stage]]]]:
        """The deals, their lines (by the deal's index) and the stage paths to write as history."""
        rng = self.rng
        weights = [
            ACCOUNT_DEAL_WEIGHT[a.tier] * STATUS_DEAL_WEIGHT[a.status] * (0.1 if a.archived else 1)
            for a in accounts
        ]
        chosen = rng.choices(accounts, weights=weights, k=total) if accounts and total else []
        opps, lines, paths = [], {}, []
        open_weights = [OPEN_STAGE_WEIGHTS.get(i + 1, 10) for i in range(len(self.open_stages))]
        overdue_weights = [
            OVERDUE_STAGE_WEIGHTS.get(i + 1, 10) for i in range(len(self.open_stages))
        ]
        for account in chosen:
            close = self.today + timedelta(days=rng.randint(-365, 182))
            roll = rng.random()
            if close < self.today:
                won_p, lost_p = PAST_OUTCOME[account.tier]
                if account.status == Status.PROSPECT:
                    won_p, lost_p = won_p * 0.3, lost_p + won_p * 0.7
            else:
                won_p, lost_p = 0.03, 0.03  # closed before the expected date
            if roll < won_p:
                stage = self.won
            elif roll < won_p + lost_p:
                stage = self.lost
            else:
                stage = rng.choices(
                    self.open_stages,
                    weights=overdue_weights if close < self.today else open_weights,
                )[0]
            closed = stage.is_won or stage.is_lost
            closed_at = None
            if closed:
                day = close if close < self.today else self.today - timedelta(rng.randint(0, 20))
                closed_at = self.at_work(day, latest=self.now)
                close = timezone.localdate(closed_at)  # a closed deal's date is its close
            cycle = timedelta(days=min(400, max(3, round(rng.lognormvariate(math.log(60), 0.6)))))
            if closed:
                created = max(closed_at - cycle, account.created_at)
                if created >= closed_at:
                    created = closed_at - timedelta(hours=rng.randint(2, 72))
                updated = closed_at
            else:
                created = self.at_work(close, latest=self.now) - cycle
                created = min(created, self.now - timedelta(days=rng.randint(0, 30), hours=1))
                updated = self.seeder.when(created)
            currency = self.currency(account.country)
            product = rng.choice(products)
            name = rng.choice(OPPORTUNITY_THEMES).format(
                product=product.name[0].lower() + product.name[1:],
                city=account.city,
                year=close.year,
            )
            opp = Opportunity(
                name=name[:200],
                account_id=account.pk,
                contact_id=rng.choice(contacts_by_account[account.pk])
                if contacts_by_account.get(account.pk)
                else None,
                owner_id=account.owner_id,
                pipeline_id=self.pipeline_id,
                stage_id=stage.pk,
                currency=currency,
                expected_close_date=close,
                forecast_category=self.forecast_category(stage),
                lead_source=self.seeder.pick(SOURCE_WEIGHTS),
                closed_at=closed_at,
                won_reason=rng.choice(WON_REASONS) if stage.is_won else "",
                lost_reason=rng.choice(LOST_REASONS) if stage.is_lost else "",
                description=rng.choice(OPPORTUNITY_NOTES) if rng.random() < 0.2 else "",
                created_at=created,
                updated_at=updated,
            )
            target = self.amount(account, currency)
            share = LINE_ITEMS_SHARE.get(
                6 if stage.is_lost else 5 if stage.is_won else self.open_stages.index(stage) + 1,
                0.3,
            )
            if rng.random() < share:
                lines[len(opps)] = self.line_items(opp, account, target, products)
                opp.amount = sum((line._net for line in lines[len(opps)]), Decimal("0"))
            else:
                opp.amount = target
            opp._account = account
            opps.append(opp)
            if rng.random() < STAGE_HISTORY_SHARE:
                paths.append((opp, self.stage_path(stage)))
        return opps, lines, paths

    def currency(self, country: str) -> str:
        roll = self.rng.random()
        if roll < 0.04:
            return Currency.USD
        return Currency.EUR if country == "ES" else Currency.MXN

    def amount(self, account: AccountRow, currency: str) -> Decimal:
        """A log-normal deal size by company size and tier, in `currency`, rounded."""
        pesos = DEAL_MEDIAN[account.size] * TIER_DEAL_FACTOR[account.tier]
        pesos = max(3000.0, pesos * self.rng.lognormvariate(0, 0.75))
        if currency == Currency.MXN:
            return Decimal(round(pesos, -2))
        return Decimal(max(100, round(pesos / float(RATES_TO_MXN[currency]), -1)))

    def forecast_category(self, stage: Stage) -> str:
        if stage.is_won or stage.is_lost:
            return ForecastCategory.CLOSED
        roll = self.rng.random()
        if stage.probability >= 75:
            return ForecastCategory.COMMIT if roll < 0.6 else ForecastCategory.BEST_CASE
        if stage.probability >= 50:
            if roll < 0.15:
                return ForecastCategory.COMMIT
            return ForecastCategory.BEST_CASE if roll < 0.6 else ForecastCategory.PIPELINE
        return ForecastCategory.BEST_CASE if roll < 0.1 else ForecastCategory.PIPELINE

    def line_items(
        self, opp: Opportunity, account: AccountRow, target: Decimal, products: list[Product]
    ) -> list[LineItem]:
        """One to five catalogue lines whose quantities add up to about `target`."""
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 5), weights=(30, 30, 20, 12, 8))[0]
        rate = Decimal("1") if opp.currency == Currency.MXN else RATES_TO_MXN[opp.currency]
        tax = PRODUCT_TAX_ES if account.country == "ES" else PRODUCT_TAX_MX
        parts = [rng.random() + 0.2 for _ in range(count)]
        lines = []
        for position, (product, part) in enumerate(
            zip(rng.sample(products, count), parts, strict=True), start=1
        ):
            unit_price = (product.price / rate).quantize(CENT)
            discount = Decimal(rng.choice((0, 0, 0, 5, 10, 15)))
            budget = target * Decimal(part / sum(parts))
            quantity = Decimal(max(1, round(budget / max(unit_price, CENT))))
            net, _tax = line_totals(
                quantity=quantity, unit_price=unit_price, discount_pct=discount, tax_rate=tax
            )
            line = LineItem(
                product_id=product.pk,
                description=product.name,
                quantity=quantity,
                unit_price=unit_price,
                discount_pct=discount,
                tax_rate=tax,
                position=position,
            )
            line._net = net
            lines.append(line)
        return lines

    def stage_path(self, stage: Stage) -> list[Stage]:
        """The stages a deal went through to reach `stage`, from the first."""
        if stage.is_won:
            return [*self.open_stages, stage]
        if stage.is_lost:
            return [*self.open_stages[: self.rng.randint(1, len(self.open_stages))], stage]
        return self.open_stages[: self.open_stages.index(stage) + 1]

    def stage_changes(self, paths: list[tuple[Opportunity, list[Stage]]]) -> list[StageChange]:
        changes = []
        for opp, path in paths:
            end = opp.closed_at or min(opp.updated_at, self.now)
            span = max((end - opp.created_at).total_seconds(), 60.0)
            times = sorted(
                opp.created_at + timedelta(seconds=span * self.rng.random())
                for _ in range(len(path) - 2)
            )
            times = [opp.created_at, *times, end] if len(path) > 1 else [opp.created_at]
            previous = None
            for to_stage, at in zip(path, times, strict=True):
                changes.append(
                    StageChange(
                        opportunity_id=opp.pk,
                        from_stage_id=previous,
                        to_stage_id=to_stage.pk,
                        at=at,
                        by_id=opp.owner_id,
                    )
                )
                previous = to_stage.pk
        return changes

    # -- activities ---------------------------------------------------------------------------

    def activities(
        self,
        contacts: list[ContactRow],
        accounts: dict[int, AccountRow],
        opps_by_account: dict[int, list[int]],
        total: int,
    ) -> Iterator[tuple]:
        """Mostly done in the past year with an outcome; some planned for the next four weeks,
        a few overdue or cancelled. Owned by the account's owner (or the contact's, without one).
        """
        rng = self.rng
        if not contacts or not total:
            return
        weights = [(0.2 if c.archived else 1.0) * (2 if c.account_id else 1) for c in contacts]
        year_ago = self.now - timedelta(days=365)
        done_planned = {ActivityKind.VISIT, ActivityKind.MEETING, ActivityKind.TASK}
        for contact in rng.choices(contacts, weights=weights, k=total):
            account = accounts.get(contact.account_id) if contact.account_id else None
            kind = self.seeder.pick(ACTIVITY_KIND_WEIGHTS)
            state = self.seeder.pick(ACTIVITY_STATUS_WEIGHTS)
            planned_at = done_at = None
            outcome = notes = ""
            if state == "done":
                done_at = self.at_work(
                    timezone.localdate(self.seeder.when(max(year_ago, contact.created_at))),
                    latest=self.now,
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
                day = self.today + timedelta(days=rng.randint(0, 27))
                planned_at = self.at_work(day)
                if planned_at <= self.now:
                    planned_at += timedelta(days=1)
                status = Activity.Status.PLANNED
                created = self.now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(1, 600))
                updated = created
            else:
                day = self.today - timedelta(
                    days=rng.randint(1, 14) if state == "overdue" else rng.randint(1, 365)
                )
                planned_at = self.at_work(day, latest=self.now)
                status = (
                    Activity.Status.PLANNED if state == "overdue" else Activity.Status.CANCELLED
                )
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

    # -- quotas -------------------------------------------------------------------------------

    def quotas(self, opps: list[Opportunity]) -> int:
        """A monthly quota for every seller of the current year, a bit above their monthly won
        average of the last twelve months (in the company currency)."""
        User = get_user_model()
        sellers = list(
            User.objects.filter(role__in=[Role.VENDEDOR, Role.GERENTE], is_active=True)
            .filter(accounts__isnull=False)
            .distinct()
            .select_related("team")
        )
        year_ago = self.now - timedelta(days=365)
        won: dict[int, Decimal] = {}
        for opp in opps:
            if opp.stage_id == self.won.pk and opp.closed_at >= year_ago:
                rate = RATES_TO_MXN.get(opp.currency, Decimal("1"))
                won[opp.owner_id] = won.get(opp.owner_id, Decimal("0")) + opp.amount * rate
        existing = set(
            Quota.objects.filter(month__year=self.today.year).values_list("owner_id", "month")
        )
        season = [0.85, 0.9, 1.0, 1.0, 1.05, 1.0, 0.95, 0.95, 1.05, 1.1, 1.15, 1.2]
        new = []
        for seller in sellers:
            monthly = won.get(seller.pk, Decimal("0")) / 12 * QUOTA_OVER_RUN_RATE
            monthly = max(Decimal("150000"), monthly)
            manager_id = seller.team.manager_id if seller.team else None
            for month in range(1, 13):
                first = date(self.today.year, month, 1)
                if (seller.pk, first) in existing:
                    continue
                amount = (monthly * Decimal(str(season[month - 1])) / 10_000).quantize(1) * 10_000
                new.append(
                    Quota(
                        owner_id=seller.pk,
                        month=first,
                        amount=amount,
                        set_by_id=manager_id if manager_id != seller.pk else None,
                    )
                )
        Quota.objects.bulk_create(new)
        return len(new)

    # -- the whole ----------------------------------------------------------------------------

    def run(
        self,
        result: SeedResult,
        accounts: list[AccountRow],
        contacts: list[ContactRow],
        *,
        opportunities: int,
        activities: int,
    ) -> None:
        out, started = self.seeder.stdout, self.seeder.started
        products, result.products = self.products()
        result.rates = self.rates()
        contacts_by_account: dict[int, list[int]] = {}
        for contact in contacts:
            if contact.account_id and not contact.archived:
                contacts_by_account.setdefault(contact.account_id, []).append(contact.pk)
        opps, lines, paths = self.opportunities(
            accounts, contacts_by_account, opportunities, products
        )
        _bulk(Opportunity, opps)
        result.opportunities = len(opps)
        items = []
        for index, opp_lines in lines.items():
            for line in opp_lines:
                line.opportunity_id = opps[index].pk
                items.append(line)
        _bulk(LineItem, items)
        result.line_items = len(items)
        changes = self.stage_changes(paths)
        _bulk(StageChange, changes)
        result.stage_changes = len(changes)
        out.write(
            f"  oportunidades: {result.opportunities:,}, líneas: {result.line_items:,}, "
            f"cambios de etapa: {result.stage_changes:,} ({_since(started)})"
        )
        opps_by_account: dict[int, list[int]] = {}
        for opp in opps:
            opps_by_account.setdefault(opp.account_id, []).append(opp.pk)
        result.activities = _bulk_rows_iter(
            Activity,
            ACTIVITY_FIELDS,
            self.activities(contacts, {a.pk: a for a in accounts}, opps_by_account, activities),
        )
        _last_contacted_update()
        out.write(
            f"  actividades: {result.activities:,}, último contacto actualizado ({_since(started)})"
        )
        result.quotas = self.quotas(opps)


class SupportContact(NamedTuple):
    """What the tickets and surveys need of a contact."""

    pk: int
    account_id: int | None
    name: str
    has_email: bool
    archived: bool


class SupportSeeder:
    """Tickets of the last six months with their history, conversation and SLA; CSAT answers
    after resolution, two NPS rounds, and each answering contact's satisfaction class.

    Each ticket's life is drawn first (when it was answered, waited for the customer, was
    resolved and closed, in business time mostly within its targets), then replayed up to now
    through the SLA service with the company's calendar and policies, so due times, pauses,
    breach flags and the business minutes each reached target took are the ones the
    application would have computed. Targets still running get their "vence pronto" and breach
    notices as already sent, so the SLA check does not mail a backlog of seeded warnings.
    """

    def __init__(self, seeder: Seeder) -> None:
        self.seeder = seeder
        self.rng = seeder.rng
        self.now = seeder.now
        self.setup = sla_setup_load()
        self.calendar = self.setup.calendar
        self.company_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        User = get_user_model()
        self.agents = list(
            User.objects.filter(role=Role.SOPORTE, is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        self.admins = list(
            User.objects.filter(is_active=True)
            .filter(models.Q(role=Role.ADMINISTRADOR) | models.Q(is_superuser=True))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not self.agents:
            self.agents = self.admins
        if not self.agents:
            raise CommandError("No hay usuarios de soporte ni administradores a quien asignar.")

    # -- one ticket ---------------------------------------------------------------------------

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

    def ticket(self, account: AccountRow, contacts: list[SupportContact]) -> Ticket:
        rng, calendar, add = self.rng, self.calendar, add_business_minutes
        category = self.seeder.pick(TICKET_CATEGORY_WEIGHTS)
        priority = self.seeder.pick(TICKET_PRIORITY_WEIGHTS)
        channel = self.seeder.pick(TICKET_CHANNEL_WEIGHTS)
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
        ticket._contact = contact
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
        ticket._history = history
        ticket._comments = comments
        ticket._notices = self.notices(ticket)
        return ticket

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

    # -- surveys ----------------------------------------------------------------------------

    def csat(self, ticket: Ticket) -> tuple | None:
        """The survey sent on resolution to the ticket's contact (a SURVEY_FIELDS row),
        answered by some; None without a contact to ask."""
        contact = ticket._contact
        if ticket.resolved_at is None or contact is None or not contact.has_email:
            return None
        sent = min(ticket.resolved_at + timedelta(minutes=1), self.now)
        answered, score, comment = sent + timedelta(hours=self.rng.uniform(0.2, 72)), None, ""
        if self.rng.random() < CSAT_ANSWERED and answered <= self.now:
            breached = ticket.first_response_breached or ticket.resolution_breached
            score = self.seeder.pick(CSAT_SCORES_BREACHED if breached else CSAT_SCORES)
            if self.rng.random() < 0.35:
                comment = self.rng.choice(CSAT_COMMENTS[score])
        else:
            answered = None
        return (
            Survey.Kind.CSAT,
            contact.pk,
            ticket.pk,
            None,
            ticket.resolved_at,
            sent,
            answered,
            score,
            comment,
        )

    def nps_rounds(self, contacts: list[SupportContact]) -> list[SurveyRound]:
        """Two rounds of the NPS question, each to a sample of the contacts with an email; each
        round's SURVEY_FIELDS rows (without the round's id yet) in `round._surveys`."""
        reachable = [c for c in contacts if c.has_email and not c.archived]
        if not reachable or not self.admins:
            return []
        rounds = []
        for days_ago, name in NPS_ROUNDS:
            created = self.now - timedelta(days=days_ago, hours=self.rng.randint(0, 8))
            sample = self.rng.sample(reachable, max(1, round(len(reachable) * NPS_SHARE)))
            survey_round = SurveyRound(
                name=f"{name} {timezone.localdate(created).year}",
                filters={},
                created_by_id=self.admins[0],
                created_at=created,
                recipients=len(sample),
            )
            survey_round._surveys = []
            for contact in sample:
                sent = created + timedelta(minutes=self.rng.randint(1, 30))
                answered = sent + timedelta(hours=self.rng.uniform(1, 240))
                score, comment = None, ""
                if self.rng.random() < NPS_ANSWERED and answered <= self.now:
                    score = self.seeder.pick(NPS_SCORES)
                    if self.rng.random() < 0.25:
                        comment = self.rng.choice(NPS_COMMENTS)
                else:
                    answered = None
                survey_round._surveys.append(
                    [
                        Survey.Kind.NPS,
                        contact.pk,
                        None,
                        None,
                        created,
                        sent,
                        answered,
                        score,
                        comment,
                    ]
                )
            rounds.append(survey_round)
        return rounds

    def satisfaction(self, contact_ids: set[int]) -> list[ContactSatisfaction]:
        """The class of each contact who answered, derived as support.services.surveys derives
        it (their CSAT answers of the last year, their latest NPS answer), from every answer
        they have in the database (the ones just seeded, and any from before)."""
        from support.selectors.surveys import CSAT_WINDOW_DAYS, Answers
        from support.services.surveys import satisfaction_level

        answered = Survey.objects.filter(answered_at__isnull=False).values_list(
            "contact_id", "kind", "score", "answered_at"
        )
        window = self.now - timedelta(days=CSAT_WINDOW_DAYS)
        csat: dict[int, list] = {}
        nps: dict[int, tuple] = {}
        for contact_id, kind, score, answered_at in answered.iterator(chunk_size=BATCH_SIZE):
            if contact_id not in contact_ids:
                continue
            if kind == Survey.Kind.CSAT and answered_at >= window:
                row = csat.setdefault(contact_id, [0, 0, answered_at])
                row[0] += score
                row[1] += 1
                row[2] = max(row[2], answered_at)
            elif kind == Survey.Kind.NPS:
                latest = nps.get(contact_id)
                if latest is None or answered_at > latest[1]:
                    nps[contact_id] = (score, answered_at)
        rows = []
        for contact_id in sorted(contact_ids):
            total, count, last = csat.get(contact_id, (0, 0, None))
            score, at = nps.get(contact_id, (None, None))
            answers = Answers(
                csat_average=total / count if count else None,
                csat_count=count,
                csat_last_at=last,
                nps=score,
                nps_at=at,
            )
            level = satisfaction_level(answers)
            if level is not None:
                rows.append(
                    ContactSatisfaction(
                        contact_id=contact_id,
                        level=level,
                        answers=answers.count,
                        updated_at=self.now,
                    )
                )
        return rows

    # -- the whole --------------------------------------------------------------------------

    def run(
        self,
        result: SeedResult,
        accounts: list[AccountRow],
        contacts: list[SupportContact],
        *,
        tickets: int,
    ) -> None:
        out, started = self.seeder.stdout, self.seeder.started
        by_account: dict[int, list[SupportContact]] = {}
        for contact in contacts:
            if contact.account_id and not contact.archived:
                by_account.setdefault(contact.account_id, []).append(contact)
        weights = [
            TICKET_ACCOUNT_WEIGHT.get(a.tier, 1.0)
            * TICKET_STATUS_WEIGHT.get(a.status, 1.0)
            * (0.05 if a.archived else 1.0)
            for a in accounts
        ]
        chosen = self.rng.choices(accounts, weights=weights, k=tickets) if accounts else []
        built = sorted(
            (self.ticket(account, by_account.get(account.pk, [])) for account in chosen),
            key=lambda t: t.created_at,
        )
        self.number(built)
        _bulk(Ticket, built)
        result.tickets = len(built)
        # Rows nothing else refers to go in as plain tuples: no model instance per row.
        changes, comments, notices, surveys = [], [], [], []
        for ticket in built:
            changes += [
                (ticket.pk, before, after, actor, at, note)
                for at, before, after, actor, note in ticket._history
            ]
            comments += [
                (ticket.pk, kind, author, body, at, at if kind == Comment.Kind.REPLY else None)
                for at, kind, author, body in ticket._comments
            ]
            notices += [
                (ticket.pk, target, kind, ticket.assignee_id, at)
                for target, kind, at in ticket._notices
            ]
            survey = self.csat(ticket)
            if survey is not None:
                surveys.append(survey)
        result.status_changes = _bulk_rows(StatusChange, STATUS_CHANGE_FIELDS, changes)
        result.ticket_comments = _bulk_rows(Comment, COMMENT_FIELDS, comments)
        _bulk_rows(SlaNotice, SLA_NOTICE_FIELDS, notices)
        out.write(
            f"  incidencias: {result.tickets:,}, comentarios: {result.ticket_comments:,}, "
            f"cambios de estado: {result.status_changes:,} ({_since(started)})"
        )
        rounds = self.nps_rounds(contacts) if tickets else []
        SurveyRound.objects.bulk_create(rounds)  # two rows, with JSON: COPY cannot take a dict
        for survey_round in rounds:
            for row in survey_round._surveys:
                row[3] = survey_round.pk
                surveys.append(tuple(row))
        _bulk_rows(Survey, SURVEY_FIELDS, surveys)
        answered = {row[1] for row in surveys if row[6] is not None}
        levels = self.satisfaction(answered)
        for start in range(0, len(levels), BATCH_SIZE):
            ContactSatisfaction.objects.bulk_create(
                levels[start : start + BATCH_SIZE],
                update_conflicts=True,
                unique_fields=["contact"],
                update_fields=["level", "answers", "updated_at"],
            )
        result.surveys = len(surveys)
        result.satisfaction = len(levels)
        out.write(
            f"  encuestas: {result.surveys:,}, satisfacción de {result.satisfaction:,} contactos "
            f"({_since(started)})"
        )


@contextlib.contextmanager
def _timestamps_as_given(*model_classes: type[models.Model]):
    """Let bulk_create keep our spread-out created/updated times instead of "now".

    Demo data all created in the same second makes "new this month" and recency sorting
    meaningless. The flags are restored even if the seeding fails.
    """
    saved = []
    for model in model_classes:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                saved.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _bulk(model: type[models.Model], objs: list) -> None:
    """Insert `objs` and set their primary keys: COPY on PostgreSQL, else bulk_create.

    bulk_create spends most of its time preparing each value in Python; COPY makes the 100,000
    contacts of the benchmark load in a fraction of the time, with the same rows.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(objs), BATCH_SIZE):
            model.objects.bulk_create(objs[start : start + BATCH_SIZE])
        return
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated and not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in [opts.pk.column, *(f.column for f in fields)])
    attnames = [f.attname for f in fields]
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BATCH_SIZE):
            batch = objs[start : start + BATCH_SIZE]
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [opts.db_table, opts.pk.column, len(batch)],
            )
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
            with cursor.cursor.copy(f"COPY {quote(opts.db_table)} ({columns}) FROM STDIN") as copy:
                for obj in batch:
                    copy.write_row([obj.pk, *(getattr(obj, name) for name in attnames)])


def _bulk_rows(model: type[models.Model], fields: tuple[str, ...], rows: list[tuple]) -> int:
    """Insert rows given as tuples of `fields` (attribute names) into a table whose new rows
    nothing else in the load refers to: COPY without building a model instance per row on
    PostgreSQL (the ids come from the table's identity), bulk_create elsewhere."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        for start in range(0, len(rows), BATCH_SIZE):
            model.objects.bulk_create(
                [
                    model(**dict(zip(fields, row, strict=True)))
                    for row in rows[start : start + BATCH_SIZE]
                ]
            )
        return len(rows)
    columns_by_name = {f.attname: f.column for f in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(columns_by_name[name]) for name in fields)
    with connection.cursor() as cursor:
        table = quote(model._meta.db_table)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)


def _bulk_rows_iter(model: type[models.Model], fields: tuple[str, ...], rows: Iterable) -> int:
    """`_bulk_rows` in batches from an iterator: 300,000 activities never sit in memory."""
    count = 0
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, BATCH_SIZE)):
        count += _bulk_rows(model, fields, batch)
    return count


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


def _last_contacted_update() -> None:
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


def _tiers_recompute(stdout) -> None:
    """The A/B/C/D ranking from the won revenue just seeded, once its service exists."""
    try:
        from opportunities.services.tiers import account_tiers_compute
    except ImportError:
        stdout.write(
            "  clasificación A/B/C/D: no recalculada (opportunities.services.tiers."
            "account_tiers_compute aún no existe)"
        )
        return
    required = [
        p
        for p in inspect.signature(account_tiers_compute).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        stdout.write(
            "  clasificación A/B/C/D: no recalculada (account_tiers_compute pide "
            + ", ".join(p.name for p in required)
            + ")"
        )
        return
    started = time.perf_counter()
    summary = account_tiers_compute()
    details = ", ".join(f"{key}: {value}" for key, value in (summary or {}).items())
    stdout.write(
        f"  clasificación A/B/C/D recalculada ({details}) ({time.perf_counter() - started:.1f} s)"
    )


@contextlib.contextmanager
def _indexes_built_after(*model_classes: type[models.Model], rows: int):
    """On PostgreSQL, drop the secondary indexes and the foreign keys of a big load, and build
    them again after it.

    Keeping the trigram GIN indexes up to date row by row costs far more than building them
    once over 100,000 rows; and each loaded row would queue one deferred check per foreign key
    (1.2 million for the activities alone), where adding the constraint back checks the whole
    table in one join, as pg_restore does. Unique and primary-key indexes stay, so the database
    still guards its invariants; every index and constraint comes back from its own definition
    (pg_get_indexdef, pg_get_constraintdef), inside the same transaction, so a failure leaves
    everything as it was.
    """
    if connection.vendor != "postgresql" or rows < BIG_LOAD:
        yield False
        return
    quote = connection.ops.quote_name
    definitions = []
    foreign_keys = []
    with connection.cursor() as cursor:
        for model in model_classes:
            table = quote(model._meta.db_table)
            cursor.execute(
                """
                SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                WHERE conrelid = %s::regclass AND contype = 'f'
                """,
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
                foreign_keys.append((table, name, definition))
            cursor.execute(
                """
                SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid)
                FROM pg_index x
                WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                """,
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {name}")
                definitions.append(definition)
    yield True
    with connection.cursor() as cursor:
        # Deferred checks of rows written before the drop (none in a pure load) run first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _analyze(*model_classes: type[models.Model]) -> None:
    """Fresh planner statistics, so the first pages after a big load use the indexes.

    Outside a transaction it is VACUUM (ANALYZE): the "last contacted" and tier updates leave a
    dead version of most accounts and contacts, and a freshly loaded table has no visibility
    map yet, so the lists' index-only scans would visit the heap row by row until autovacuum
    comes round (contacts filtered: 130 ms instead of 20 on the benchmark data).
    """
    if connection.vendor == "postgresql":
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in model_classes:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


SALES_MODELS = (Opportunity, LineItem, StageChange, Activity)
# The columns of the support rows written as plain tuples (_bulk_rows), by attribute name.
STATUS_CHANGE_FIELDS = ("ticket_id", "from_status", "to_status", "actor_id", "at", "note")
COMMENT_FIELDS = ("ticket_id", "kind", "author_id", "body", "created_at", "emailed_at")
SLA_NOTICE_FIELDS = ("ticket_id", "target", "kind", "sent_to_id", "created_at")
SURVEY_FIELDS = (
    "kind",
    "contact_id",
    "ticket_id",
    "round_id",
    "created_at",
    "sent_at",
    "answered_at",
    "score",
    "comment",
)
SUPPORT_MODELS = (
    Ticket,
    StatusChange,
    Comment,
    SlaNotice,
    SurveyRound,
    Survey,
    ContactSatisfaction,
)


def _default_opportunities(contacts: int) -> int:
    return contacts // 2  # 50,000 per 100,000 contacts (DESIGN.md §4)


def _default_activities(contacts: int) -> int:
    return contacts * 3  # 300,000 per 100,000 contacts


def _default_tickets(contacts: int) -> int:
    return contacts // TICKETS_PER_CONTACT  # 20,000 per 100,000 contacts


def seed_demo(
    *,
    contacts: int,
    accounts: int | None = None,
    opportunities: int | None = None,
    activities: int | None = None,
    tickets: int | None = None,
    only_sales: bool = False,
    only_support: bool = False,
    seed: int = 42,
    stdout,
) -> SeedResult:
    """Build the demo data in one transaction: all of it, or nothing.

    With `only_sales`, add only products, rates, opportunities, activities and quotas to the
    accounts and contacts already there (`contacts` and `accounts` are then ignored); with
    `only_support`, only tickets and surveys.
    """
    started = time.perf_counter()
    seeder = Seeder(seed=seed, stdout=stdout, started=started)
    if only_sales:
        existing = Contact.objects.count()
        opportunities = _default_opportunities(existing) if opportunities is None else opportunities
        activities = _default_activities(existing) if activities is None else activities
        # The "last contacted" update rewrites most accounts and contacts: cheaper with their
        # secondary indexes rebuilt once than updated row by row.
        tables = (*SALES_MODELS, Account, Contact)
        rows = opportunities + activities
    elif only_support:
        tickets = _default_tickets(Contact.objects.count()) if tickets is None else tickets
        tables = SUPPORT_MODELS
        rows = tickets * 8  # with their history, conversation and surveys
    else:
        if accounts is None:
            accounts = max(10, contacts // 5) if contacts else 0
        opportunities = _default_opportunities(contacts) if opportunities is None else opportunities
        activities = _default_activities(contacts) if activities is None else activities
        tickets = _default_tickets(contacts) if tickets is None else tickets
        tables = (Account, Contact, TaggedItem, Consent, *SALES_MODELS, *SUPPORT_MODELS)
        rows = contacts + accounts + opportunities + activities + tickets * 8
    with transaction.atomic():
        with _indexes_built_after(*tables, rows=rows) as rebuilt:
            if only_sales:
                result = seeder.run_sales(opportunities=opportunities, activities=activities)
            elif only_support:
                result = seeder.run_support(tickets=tickets)
            else:
                result = seeder.run(
                    contacts=contacts,
                    accounts=accounts,
                    opportunities=opportunities,
                    activities=activities,
                    tickets=tickets,
                )
        if rebuilt:
            stdout.write(f"  índices reconstruidos ({_since(started)})")
    if not only_support:
        _tiers_recompute(stdout)
    # consent_latest_rebuild fills ConsentLatest: without statistics the consent filter of the
    # contact list plans badly (130 ms instead of 20 on the benchmark data).
    _analyze(*tables, *(() if only_sales or only_support else (ConsentLatest,)))
    if connection.vendor == "postgresql":
        stdout.write(f"  estadísticas actualizadas ({_since(started)})")
    if not only_sales and not only_support:
        # After the tiers (the demo segments select by tier) and the statistics (the segments'
        # queries plan on them). campaigns.seed builds its own data, then its tables' statistics.
        result.campaign_seed = seed_campaigns(seed=seed)
        _analyze(Send, TrackingEvent, Suppression, Consent, ConsentLatest)
        stdout.write(f"  campañas ({_since(started)})")
    result.seconds = time.perf_counter() - started
    return result


class Command(BaseCommand):
    help = (
        "Carga datos de demostración: usuarios de cada rol, equipos, cuentas, contactos, "
        "oportunidades, actividades, cuotas, incidencias y encuestas de satisfacción."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=2000, help="Contactos a crear.")
        parser.add_argument(
            "--accounts",
            type=int,
            default=None,
            help="Cuentas a crear (por omisión, 20 %% de los contactos, mínimo 10).",
        )
        parser.add_argument("--seed", type=int, default=42, help="Semilla del generador aleatorio.")
        parser.add_argument(
            "--opportunities",
            type=int,
            default=None,
            help="Oportunidades a crear (por omisión, la mitad de los contactos).",
        )
        parser.add_argument(
            "--activities",
            type=int,
            default=None,
            help="Actividades a crear (por omisión, 3 por contacto).",
        )
        parser.add_argument(
            "--tickets",
            type=int,
            default=None,
            help="Incidencias a crear (por omisión, una por cada 5 contactos).",
        )
        parser.add_argument(
            "--only-sales",
            action="store_true",
            help="Solo datos de ventas (productos, tipos de cambio, oportunidades, actividades y "
            "cuotas) para las cuentas y contactos que ya existen.",
        )
        parser.add_argument(
            "--only-support",
            action="store_true",
            help="Solo datos de soporte (incidencias con su historial y conversación, encuestas "
            "de satisfacción) para las cuentas y contactos que ya existen.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="No hacer nada si ya existe alguna cuenta (con --only-sales: alguna "
            "oportunidad; con --only-support: alguna incidencia) (para `make run`).",
        )

    def handle(
        self,
        *args,
        contacts: int,
        accounts: int | None,
        opportunities: int | None,
        activities: int | None,
        tickets: int | None,
        only_sales: bool,
        only_support: bool,
        seed: int,
        if_empty: bool,
        **options,
    ):
        for name, value in (
            ("--contacts", contacts),
            ("--accounts", accounts),
            ("--opportunities", opportunities),
            ("--activities", activities),
            ("--tickets", tickets),
        ):
            if value is not None and value < 0:
                raise CommandError(f"{name} no puede ser negativo.")
        if only_sales and only_support:
            raise CommandError("Elige --only-sales o --only-support, no los dos.")
        if only_sales:
            already = Opportunity.objects.exists()
        elif only_support:
            already = Ticket.objects.exists()
        else:
            already = Account.objects.exists()
        if if_empty and already:
            self.stdout.write("Ya hay datos: no se cargan los datos de demostración.")
            self.print_users()
            return
        what = (
            "datos de ventas"
            if only_sales
            else "datos de soporte"
            if only_support
            else "datos de demostración"
        )
        self.stdout.write(f"Cargando {what} (semilla {seed})…")
        result = seed_demo(
            contacts=contacts,
            accounts=accounts,
            opportunities=opportunities,
            activities=activities,
            tickets=tickets,
            only_sales=only_sales,
            only_support=only_support,
            seed=seed,
            stdout=self.stdout,
        )
        parts = (
            []
            if only_sales or only_support
            else [
                f"{result.accounts:,} cuentas",
                f"{result.contacts:,} contactos",
                f"{result.tagged_items:,} etiquetas asignadas",
                f"{result.consents:,} registros de consentimiento",
            ]
        )
        if not only_support:
            parts += [
                f"{result.opportunities:,} oportunidades",
                f"{result.activities:,} actividades",
                f"{result.quotas:,} cuotas",
                f"{result.products:,} productos",
                f"{result.rates:,} tipos de cambio",
            ]
        if not only_sales:
            parts += [
                f"{result.tickets:,} incidencias",
                f"{result.surveys:,} encuestas de satisfacción",
            ]
        if result.campaign_seed is not None:
            parts += [
                f"{result.campaign_seed.campaigns:,} campañas",
                f"{result.campaign_seed.sends:,} envíos",
                f"{result.campaign_seed.events:,} eventos de seguimiento",
            ]
        self.stdout.write(
            self.style.SUCCESS(f"Listo en {result.seconds:.1f} s: " + ", ".join(parts) + ".")
        )
        self.print_users()

    def print_users(self) -> None:
        User = get_user_model()
        rows = [("Usuario", "Nombre", "Rol", "Equipo", "Contraseña")]
        users = User.objects.filter(username__in=[u[0] for u in DEMO_USERS]).select_related("team")
        order = [u[0] for u in DEMO_USERS]
        for user in sorted(users, key=lambda u: order.index(u.username)):
            rows.append(
                (
                    user.username,
                    user.get_full_name(),
                    str(user.get_role_display()) + (" (superusuario)" if user.is_superuser else ""),
                    user.team.name if user.team else "—",
                    DEMO_PASSWORD,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        self.stdout.write("")
        for n, row in enumerate(rows):
            self.stdout.write(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
            if n == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
