"""The second step of signing in, and the account's security pages (crm.core.mfa).

After a correct password, a user with two-factor sign-in on is not signed in yet: the session
holds who they are for a few minutes (`login_pending_start`) and the code page signs them in
once a code checks out. Wrong codes are failed logins for django-axes, like wrong passwords.
"""

import time

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import signals
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.generic import FormView
from django_otp import login as otp_login

from crm.core import mfa
from crm.core.forms import MFACodeForm, MFADisableForm, MFAEnableForm, PasswordConfirmForm
from crm.core.forms_utils import client_ip
from crm.core.models import User

# Who passed the password step: {"user", "backend", "next", "at"}, for PENDING_SECONDS.
PENDING = "_crm_mfa_pending"
PENDING_SECONDS = 5 * 60
# The secret of the authenticator being set up (crm.core.mfa.mfa_new_key).
SETUP_KEY = "_crm_mfa_setup_key"
# Recovery codes just made, until the person says they kept them (or CODES_SECONDS pass).
NEW_CODES = "_crm_mfa_codes"
CODES_SECONDS = 15 * 60


# Signing in ------------------------------------------------------------------------------------


def login_pending_start(request: HttpRequest, user: User, redirect_to: str) -> None:
    """The password was right: remember who, and where to go (already checked to be on this
    site), until the code is. A new session key, as signing in would give."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "user": user.pk,
        "backend": user.backend,
        "next": redirect_to,
        "at": int(time.time()),
    }


def _pending(request: HttpRequest) -> tuple[User, dict] | None:
    data = request.session.get(PENDING)
    if not data or time.time() - data.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=data["user"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING, None)
        return None
    return user, data


@method_decorator(
    [login_not_required, never_cache, sensitive_post_parameters("code")], name="dispatch"
)
class LoginCodeView(FormView):
    template_name = "registration/login_code.html"
    form_class = MFACodeForm

    def dispatch(self, request, *args, **kwargs):
        self.pending = _pending(request)
        if self.pending is None:
            messages.info(request, _("Escribe de nuevo tu usuario y contraseña."))
            return redirect("crm:login")
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        request = self.request
        user, data = self.pending
        credentials = {"username": user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            request.session.pop(PENDING, None)
            return get_lockout_response(request, None, credentials)
        verification = mfa.mfa_verify(
            user=user, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if verification.throttled:
            form.add_error(
                "code", _("Demasiados códigos incorrectos: espera unos segundos y vuelve a probar.")
            )
            return self.form_invalid(form)
        if verification.device is None:
            # A failed login: audited, and counted by django-axes towards both locks.
            signals.user_login_failed.send(
                sender=__name__, credentials=credentials, request=request
            )
            form.add_error("code", _("El código no es correcto."))
            return self.form_invalid(form)
        del request.session[PENDING]
        auth_login(request, user, backend=data["backend"])
        otp_login(request, verification.device)
        if verification.recovery:
            left = mfa.mfa_recovery_codes_left(user)
            messages.warning(
                request,
                _(
                    "Has usado un código de recuperación; te quedan %(left)s. Puedes generar "
                    "códigos nuevos en Seguridad de la cuenta."
                )
                % {"left": left},
            )
        return HttpResponseRedirect(data["next"])


# The account's security ------------------------------------------------------------------------


@require_http_methods(["GET"])
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    enabled = mfa.mfa_enabled(user)
    context = {
        "mfa_enabled": enabled,
        "mfa_required": mfa.mfa_required(user),
        "codes_left": mfa.mfa_recovery_codes_left(user) if enabled else 0,
    }
    return render(request, "registration/security.html", context)


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def mfa_enable(request: HttpRequest) -> HttpResponse:
    """Scan the QR code (or type the secret), then confirm with a code the app shows."""
    user = request.user
    if mfa.mfa_enabled(user):
        messages.info(request, _("La verificación en dos pasos ya está activada."))
        return redirect("crm:security")
    key = request.session.get(SETUP_KEY) or mfa.mfa_new_key()
    request.session[SETUP_KEY] = key
    form = MFAEnableForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = mfa.mfa_enable(
                user=user, key=key, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except ValidationError as error:
            form.add_error("code", error)
        else:
            del request.session[SETUP_KEY]
            otp_login(request, device)  # this session has just proved it holds the device
            _codes_keep(request, codes)
            messages.success(request, _("Verificación en dos pasos activada."))
            return redirect("crm:mfa-codes")
    device = mfa.mfa_setup_device(user=user, key=key)
    context = {
        "form": form,
        "qr_svg": mfa.mfa_qr_svg(device),
        "secret": mfa.mfa_secret(device),
        "mfa_required": mfa.mfa_required(user),
    }
    return render(request, "registration/mfa_enable.html", context)


def _codes_keep(request: HttpRequest, codes: list[str]) -> None:
    request.session[NEW_CODES] = {"codes": codes, "at": int(time.time())}


def _codes_new(request: HttpRequest) -> list[str] | None:
    data = request.session.get(NEW_CODES)
    if not data or time.time() - data.get("at", 0) > CODES_SECONDS:
        request.session.pop(NEW_CODES, None)
        return None
    return data["codes"]


@never_cache
@require_http_methods(["GET", "POST"])
def mfa_codes(request: HttpRequest) -> HttpResponse:
    """The new recovery codes, shown this once: until "Ya los guardé" (a POST) forgets them."""
    codes = _codes_new(request)
    if request.method == "POST" or codes is None:
        if codes is None:
            messages.info(
                request,
                _("Los códigos de recuperación se muestran una sola vez; puedes generar otros."),
            )
        request.session.pop(NEW_CODES, None)
        return redirect("crm:security")
    return render(request, "registration/mfa_codes.html", {"codes": codes})


@never_cache
@require_http_methods(["GET"])
def mfa_codes_download(request: HttpRequest) -> HttpResponse:
    codes = _codes_new(request)
    if codes is None:
        return redirect("crm:mfa-codes")
    lines = [
        _("Códigos de recuperación del CRM para %(user)s") % {"user": request.user.get_username()},
        _("Generados: %(when)s") % {"when": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
        _("Cada código sirve una sola vez para entrar sin la aplicación de autenticación."),
        "",
        *codes,
        "",
    ]
    response = HttpResponse("\r\n".join(lines), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="codigos-de-recuperacion.txt"'
    return response


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def mfa_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not mfa.mfa_enabled(user):
        return redirect("crm:security")
    form = PasswordConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        codes = mfa.mfa_recovery_codes_regenerate(user=user, ip=client_ip(request))
        _codes_keep(request, codes)
        messages.success(request, _("Códigos de recuperación nuevos: los anteriores ya no sirven."))
        return redirect("crm:mfa-codes")
    return render(request, "registration/mfa_codes_regenerate.html", {"form": form})


@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def mfa_disable(request: HttpRequest) -> HttpResponse:
    user = request.user
    if mfa.mfa_required(user):
        messages.error(
            request, _("Tu rol exige la verificación en dos pasos: no se puede desactivar.")
        )
        return redirect("crm:security")
    if not mfa.mfa_enabled(user):
        return redirect("crm:security")
    form = MFADisableForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            mfa.mfa_disable(user=user, code=form.cleaned_data["code"], ip=client_ip(request))
        except ValidationError as error:
            form.add_error("code", error)
        else:
            messages.success(request, _("Verificación en dos pasos desactivada."))
            return redirect(reverse("crm:security"))
    return render(request, "registration/mfa_disable.html", {"form": form})
