"""The panels of the hoja de cliente.

An account's or a contact's sheet is composed of panels that each app renders itself and the
page loads with htmx, so that a lower app (accounts) never reaches into a higher one's
templates. Apps register their panels in `AppConfig.ready()`; the detail views ask for them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    url_name: str
    order: int = 50
    # The full list behind "Ver todo", filtered to the record: e.g. contacts?account=<pk>.
    list_url_name: str | None = None
    list_filter: str = ""
    # Who sees the panel at all (e.g. no opportunities for support); None: everyone.
    visible_to: Callable[[object], bool] | None = None

    def url(self, obj) -> str:
        return reverse(self.url_name, args=[obj.pk])

    def list_url(self, obj) -> str:
        if not self.list_url_name:
            return self.url(obj)
        return f"{reverse(self.list_url_name)}?{self.list_filter}={obj.pk}"


_PANELS: dict[str, list[Panel]] = {}


def register_panel(model_label: str, panel: Panel) -> None:
    panels = [p for p in _PANELS.get(model_label, []) if p.key != panel.key]
    _PANELS[model_label] = sorted([*panels, panel], key=lambda p: p.order)


def panels_for(obj, *, user) -> list[dict]:
    return [
        {"key": p.key, "title": p.title, "url": p.url(obj), "list_url": p.list_url(obj)}
        for p in _PANELS.get(obj._meta.label_lower, [])
        if p.visible_to is None or p.visible_to(user)
    ]
