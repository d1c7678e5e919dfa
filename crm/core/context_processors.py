from django.http import HttpRequest

from crm.core.roles import SECTIONS, can_use


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {"nav": {section: can_use(user, section) for section in SECTIONS}}
