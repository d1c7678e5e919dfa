import sys

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect
from django.template import loader
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _

from crm.core.forms import LoginForm
from crm.core.mfa import mfa_enabled
from crm.core.views_mfa import login_pending_start


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        """The password is right; with two-factor sign-in on, the code comes next, and only
        then is the session signed in (crm.core.views_mfa.LoginCodeView)."""
        user = form.get_user()
        if mfa_enabled(user):
            # get_success_url() keeps `next` only when it is a path of this site.
            login_pending_start(self.request, user, self.get_success_url())
            return redirect("crm:login-code")
        return super().form_valid(form)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("crm:home")

    def form_valid(self, form):
        messages.success(self.request, _("Tu contraseña se ha cambiado."))
        return super().form_valid(form)


# How long a client is asked to wait when the database cannot be reached (a restart, a failover).
RETRY_AFTER_SECONDS = 10


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database that cannot be reached answers 503 "volvemos enseguida", with
    Retry-After, rather than a 500; any other error, the 500 page.

    Django calls it while the exception is being handled. Neither page renders with the request's
    context (its processors read the user, which needs the database).
    """
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        context = {"retry_after": RETRY_AFTER_SECONDS}
        response = HttpResponse(loader.render_to_string("503.html", context), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(loader.render_to_string("500.html"))
