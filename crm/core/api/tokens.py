"""Personal API tokens: created in the profile, shown once, stored as a SHA-256, with scopes and
an expiry, revocable, their last use recorded.

A key reads `crm_<prefix>_<secret>`: the prefix (8 characters) is shown in the list to tell keys
apart; the whole key is hashed. A lookup is by the hash (a unique index), so a wrong key costs
one indexed read and reveals nothing about the right one.

A live key's row, with its user and team, is kept in the cache under its hash, for
settings.API_KEY_KEEP_SECONDS (30 with Redis; 0, never, with a cache of each process):
a request with it reads Redis instead of PostgreSQL (0.6 ms of a worker's CPU and a statement
of the database's, on every request of an integration). Whatever decides whether a key works,
or what its user may see, forgets it at once and again when its transaction commits: the key
revoked, its row saved or deleted, its user or the user's team saved or deleted
(crm.core.apps). A forgotten key's place holds a marker as long, and a key read from
the database is only kept where nothing is (`add`): a request that read the key just before
its revocation cannot put it back. A change made without signals (an update(), the database by
hand) is seen within that time. A cache that does not answer costs the query, never the
request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit
from crm.core.models import ApiToken, AuditEvent, User

PREFIX = "crm_"
# Each area is read, or read and written; "write" includes "read".
AREAS = {
    "accounts": gettext_lazy("Cuentas"),
    "contacts": gettext_lazy("Contactos y consentimiento"),
    "sales": gettext_lazy("Ventas: oportunidades, actividades y productos"),
    "support": gettext_lazy("Soporte: incidencias"),
    "campaigns": gettext_lazy("Campañas y segmentos (solo lectura)"),
}
READ_ONLY_AREAS = {"campaigns"}
SCOPES = [f"{area}:read" for area in AREAS] + [
    f"{area}:write" for area in AREAS if area not in READ_ONLY_AREAS
]
EXPIRY_DAYS = (30, 90, 180, 365)
MAX_PER_USER = 20
# The last use is written at most this often per key (not on every request).
TOUCH_EVERY = dt.timedelta(minutes=1)
FORGOTTEN = "forgotten"  # the marker in a forgotten key's place

logger = logging.getLogger(__name__)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def scope_labels(scopes: list[str]) -> list[str]:
    """The scopes as people read them: «Cuentas: leer», «Contactos…: leer y modificar»."""
    labels = []
    for area, label in AREAS.items():
        if f"{area}:write" in scopes:
            labels.append(_("%(area)s: leer y modificar") % {"area": label})
        elif f"{area}:read" in scopes:
            labels.append(_("%(area)s: leer") % {"area": label})
    return labels


def grants(scopes: list[str], area: str, write: bool) -> bool:
    """Whether a key with `scopes` may read (or write) `area`."""
    if f"{area}:write" in scopes:
        return True
    return not write and f"{area}:read" in scopes


@transaction.atomic
def token_create(
    *, user: User, name: str, scopes: list[str], days: int, ip: str | None = None
) -> tuple[ApiToken, str]:
    """A new key for `user`: the row, and the key itself (never stored, shown once)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("Ponle un nombre que diga dónde la usarás.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        errors["scopes"] = _("Elige al menos un permiso válido.")
    if days not in EXPIRY_DAYS:
        errors["days"] = _("Elige una caducidad de la lista.")
    if ApiToken.objects.filter(user=user, revoked_at=None).count() >= MAX_PER_USER:
        errors["name"] = _("Ya tienes %(n)s claves activas: revoca alguna antes.") % {
            "n": MAX_PER_USER
        }
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(4)
    key = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        key_hash=_hash(key),
        scopes=sorted(set(scopes)),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    audit(
        actor=user,
        action=AuditEvent.Action.CREATE,
        target=f"api_token:{token.pk}",
        detail={"name": token.name, "scopes": token.scopes, "days": days},
        ip=ip,
    )
    return token, key


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken, ip: str | None = None) -> ApiToken:
    if token.user_id != actor.pk and not actor.is_admin_role:
        raise ValidationError(_("Esa clave no es tuya."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            target=f"api_token:{token.pk}",
            detail={"name": token.name, "user": token.user_id},
            ip=ip,
        )
    return token


def token_for_key(key: str, *, ip: str | None = None) -> ApiToken | None:
    """The live key `key` (not expired, not revoked, of an active user), or None; records its
    use when it is read from the database: at most once a minute per key, and whenever the
    address changes, so within the keeping time plus a minute of the last request."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    digest = _hash(key)
    if (token := _kept(digest)) is not None:
        return token if _live(token) else None
    # get() by the unique hash, the rest checked in _live: first() with the three conditions
    # in SQL, ordered by the model's ordering, compiled on every request for one row, cost
    # 0.4 ms more.
    try:
        token = ApiToken.objects.select_related("user", "user__team").get(key_hash=digest)
    except ApiToken.DoesNotExist:
        return None
    if not _live(token):
        return None
    now = timezone.now()
    if (
        token.last_used_at is None
        or now - token.last_used_at > TOUCH_EVERY
        or (ip and ip != token.last_used_ip)
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
        token.last_used_at, token.last_used_ip = now, ip
    _keep(token)
    return token


def _live(token: ApiToken) -> bool:
    return token.revoked_at is None and token.expires_at > timezone.now() and token.user.is_active


def _cache_key(digest: str) -> str:
    return f"crm:api-key:{digest}"


def _keep_seconds() -> int:
    return settings.API_KEY_KEEP_SECONDS


def _kept(digest: str) -> ApiToken | None:
    if not _keep_seconds():
        return None
    try:
        token = cache.get(_cache_key(digest))
    except Exception:  # noqa: BLE001 - Redis unreachable: the database answers
        logger.warning("Clave de API leída sin caché: no responde", exc_info=True)
        return None
    return token if isinstance(token, ApiToken) else None


def _keep(token: ApiToken) -> None:
    if not _keep_seconds():
        return
    try:
        cache.add(_cache_key(token.key_hash), token, _keep_seconds())
    except Exception:  # noqa: BLE001 - read from the database again next time
        logger.warning("Clave de API no guardada en la caché", exc_info=True)


def _forget(*digests: str) -> None:
    if not digests or not _keep_seconds():
        return
    try:
        cache.set_many({_cache_key(d): FORGOTTEN for d in digests}, _keep_seconds())
    except Exception:  # noqa: BLE001 - its copy expires in the keeping time
        logger.warning("Claves de API no olvidadas en la caché", exc_info=True)


def forget_keys(*digests: str) -> None:
    """These keys are read from the database from now on: at once, and again when the
    transaction commits (a request in between still reads the row as it was)."""
    _forget(*digests)
    transaction.on_commit(lambda: _forget(*digests))


# A user's save of these columns only changes nothing a key's requests read (the sign-in's).
_USER_FIELDS_KEPT = frozenset({"last_login"})


def forget_token(sender, instance: ApiToken, created: bool = False, **kwargs) -> None:
    """post_save, post_delete of a key (a new one was never kept)."""
    if not created:
        forget_keys(instance.key_hash)


def forget_user_tokens(sender, instance: User, update_fields=None, **kwargs) -> None:
    """post_save, post_delete of a user: their role, team, state and time zone are part of
    every answer to their keys."""
    if not _keep_seconds() or (
        update_fields is not None and set(update_fields) <= _USER_FIELDS_KEPT
    ):
        return
    forget_keys(*ApiToken.objects.filter(user=instance.pk).values_list("key_hash", flat=True))


def forget_team_tokens(sender, instance, **kwargs) -> None:
    """post_save, post_delete of a team: its members' keys carry it."""
    if not _keep_seconds():
        return
    forget_keys(*ApiToken.objects.filter(user__team=instance.pk).values_list("key_hash", flat=True))
