"""A fixed-window counter in the cache: how many times a key was hit in the current window.

Used by the public sign-up form (campaigns.views.signup), which anyone on the internet may
post to: per IP and form, and per form. The counter lives in the default cache (Redis in
production, so every web process shares it; the local-memory cache in development and tests).
A cache that cannot be reached lets requests through rather than refusing every visitor.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def hit(key: str, *, limit: int, window: int) -> bool:
    """Count one hit of `key`; False when it is past `limit` hits in this `window` (seconds)."""
    bucket = int(time.time() // window)
    name = f"ratelimit:{key}:{bucket}"
    try:
        # add() is atomic: only the first hit of the window creates the counter.
        cache.add(name, 0, timeout=window + 5)
        count = cache.incr(name)
    except ValueError:  # evicted between add() and incr()
        cache.set(name, 1, timeout=window + 5)
        count = 1
    except Exception:  # noqa: BLE001 - a cache outage must not take the form down
        logger.warning("rate limit cache unavailable for %s", key, exc_info=True)
        return True
    return count <= limit
