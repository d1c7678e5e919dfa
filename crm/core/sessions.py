"""Sessions read from the cache and kept in the database: the default when Redis is the cache
(settings.SESSION_ENGINE; README, "Producción").

Django's `cached_db` does the reading: a page finds its session with one Redis GET instead of
a query (about 0.8 ms of a worker's CPU and a statement of PostgreSQL's on every page), and
every write still goes to the database first, so a restart or an eviction of Redis closes no
session. Two things this store adds to it:

- Redis down is not an error page. `cached_db` already falls back to the database when the
  cache cannot be read, but then copies the session into the cache without catching the
  failure, and a new session's key is checked against the cache alone; here those, and the
  removal at sign-out, are logged and the request goes on with the database.
- A copy in the cache lives at most CACHE_SECONDS. A sign-out whose removal from the cache
  failed (Redis unreachable at that moment) deletes the session from the database all the
  same, and the copy left in Redis stops being honoured within those five minutes; a live
  session costs one query per five minutes to be read again.
"""

import logging

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

logger = logging.getLogger("django.contrib.sessions")

CACHE_SECONDS = 5 * 60


class SessionStore(CachedDBStore):
    def _cache_seconds(self, expiry=None) -> int:
        return min(CACHE_SECONDS, self.get_expiry_age(expiry=expiry))

    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # noqa: BLE001 - Redis unreachable: the database answers
            logger.warning("Sesión leída de la base de datos: la caché no responde", exc_info=True)
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self._cache_seconds(stored.expire_date))
        except Exception:  # noqa: BLE001 - the next request reads the database again
            logger.warning("Sesión no copiada a la caché: no responde", exc_info=True)
        return data

    def exists(self, session_key):
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:  # noqa: BLE001 - a new key is checked against the database alone
            logger.warning("Sesión buscada sin la caché: no responde", exc_info=True)
        return super(CachedDBStore, self).exists(session_key)

    def save(self, must_create=False):
        super(CachedDBStore, self).save(must_create)  # the database first, as cached_db does
        try:
            self._cache.set(self.cache_key, self._session, self._cache_seconds())
        except Exception:  # noqa: BLE001
            logger.warning("Sesión guardada sin copia en la caché: no responde", exc_info=True)

    def delete(self, session_key=None):
        super(CachedDBStore, self).delete(session_key)
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except Exception:  # noqa: BLE001 - its copy in Redis expires within CACHE_SECONDS
            logger.warning("Sesión cerrada sin borrar su copia de la caché", exc_info=True)
