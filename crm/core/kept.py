"""Who is asking, kept in the cache: the signed-in user (crm.core.backends) and a live API key
with its user (crm.core.api.tokens), read on every request, are kept for
settings.AUTH_KEEP_SECONDS (30 with Redis; 0, never, with a cache of each process, where a
change made through one worker would not reach the others' copies). A request then finds them
with one GET of Redis instead of a query (0.5 to 0.7 ms of a worker's CPU, and a statement of
PostgreSQL's).

Whatever decides who may do what forgets them at once and again when its transaction commits
(crm.core.apps): a user saved (a sign-in's last login alone excepted) or deleted, their team
saved or deleted, a key saved (revoked) or deleted. A forgotten entry's place holds a marker
for as long, and an entry read from the database is only kept where nothing is (`add`): a
request that read the row just before the change cannot put the old one back. A change made
without signals (an update(), the database by hand) is seen within AUTH_KEEP_SECONDS. A cache
that does not answer costs the query, never the request.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

FORGOTTEN = "forgotten"  # the marker in a forgotten entry's place


def seconds() -> int:
    return settings.AUTH_KEEP_SECONDS


def read(key: str, kind: type):
    """The `kind` kept under `key`, or None (none kept, forgotten, or the cache down)."""
    if not seconds():
        return None
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - Redis unreachable: the database answers
        logger.warning("%s leído sin caché: no responde", kind.__name__, exc_info=True)
        return None
    return value if isinstance(value, kind) else None


def keep(key: str, value) -> None:
    """Keeps `value` under `key` unless something is there (a marker: it was just forgotten)."""
    if not seconds():
        return
    try:
        cache.add(key, value, seconds())
    except Exception:  # noqa: BLE001 - read from the database again next time
        logger.warning("%s no guardado en la caché", type(value).__name__, exc_info=True)


def forget(*keys: str) -> None:
    """These are read from the database from now on: at once, and again when the transaction
    commits (a request in between still reads the rows as they were)."""
    if keys and seconds():
        _mark(keys)
        transaction.on_commit(lambda: _mark(keys))


def _mark(keys) -> None:
    try:
        cache.set_many(dict.fromkeys(keys, FORGOTTEN), seconds())
    except Exception:  # noqa: BLE001 - their copies expire within AUTH_KEEP_SECONDS
        logger.warning("No se olvidaron en la caché: %s", ", ".join(keys), exc_info=True)


def user_key(pk: int) -> str:
    return f"crm:user:{pk}"


def api_key_key(digest: str) -> str:
    return f"crm:api-key:{digest}"


# A user's save of these columns only changes nothing that who they are decides (the sign-in's).
_USER_FIELDS_UNREAD = frozenset({"last_login"})


def forget_api_key(sender, instance, created: bool = False, **kwargs) -> None:
    """post_save, post_delete of an API key (a new one was never kept)."""
    if not created:
        forget(api_key_key(instance.key_hash))


def forget_user(sender, instance, created: bool = False, update_fields=None, **kwargs) -> None:
    """post_save, post_delete of a user: their role, team, state, password and time zone
    decide every request of theirs, signed in or with a key (a new one was never kept)."""
    if (
        created
        or not seconds()
        or (update_fields is not None and set(update_fields) <= _USER_FIELDS_UNREAD)
    ):
        return
    forget(user_key(instance.pk), *map(api_key_key, _key_hashes(user=instance.pk)))


def forget_team(sender, instance, created: bool = False, **kwargs) -> None:
    """post_save, pre_delete of a team: its members carry it (a new one has none yet)."""
    if created or not seconds():
        return
    from crm.core.models import User

    members = User.objects.filter(team=instance.pk).values_list("pk", flat=True)
    forget(*map(user_key, members), *map(api_key_key, _key_hashes(user__team=instance.pk)))


def _key_hashes(**where) -> list[str]:
    from crm.core.models import ApiToken

    return list(ApiToken.objects.filter(**where).values_list("key_hash", flat=True))
