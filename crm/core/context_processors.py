from django.http import HttpRequest

from crm.core.mfa import mfa_required
from crm.core.roles import SECTIONS, can_use


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    if mfa_required(user) and not getattr(user, "is_verified", lambda: True)():
        return {"nav": {}}  # nothing to reach before two-factor sign-in is set up
    return {"nav": {section: can_use(user, section) for section in SECTIONS}}
