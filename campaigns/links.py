"""The per-recipient addresses of a message: the open pixel, clicks, unsubscribe, preferences.

Paths are short and fixed (they are in every message) and must match campaigns.urls.public:
/m/o/<token>.gif, /m/c/<token>/<link id>/, /m/baja/<token>/, /m/preferencias/<token>/.
"""

from django.conf import settings

from campaigns import tokens


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def link_values(*, send_id: int, contact_id: int) -> dict[str, str]:
    """The values the compiled layout needs for one recipient (campaigns.content.LINK_FIELDS)."""
    return {
        "token_apertura": tokens.make(tokens.OPEN, send_id),
        "token_clic": tokens.make(tokens.CLICK, send_id),
        "url_baja": unsubscribe_url(send_id),
        "url_preferencias": preferences_url(contact_id),
    }


def unsubscribe_url(send_id: int) -> str:
    return f"{_site()}/m/baja/{tokens.make(tokens.UNSUBSCRIBE, send_id)}/"


def preferences_url(contact_id: int) -> str:
    return f"{_site()}/m/preferencias/{tokens.make(tokens.PREFERENCES, contact_id)}/"


def click_url(*, send_id: int, link_id: int) -> str:
    return f"{_site()}/m/c/{tokens.make(tokens.CLICK, send_id)}/{link_id}/"


def open_url(send_id: int) -> str:
    return f"{_site()}/m/o/{tokens.make(tokens.OPEN, send_id)}.gif"
