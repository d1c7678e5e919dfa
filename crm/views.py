from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from crm.dashboards import home_for
from crm.forms import LoginForm, SearchForm
from crm.search import global_search


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("crm:home")

    def form_valid(self, form):
        messages.success(self.request, _("Tu contraseña se ha cambiado."))
        return super().form_valid(form)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "crm/home.html", home_for(user=request.user))


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    # The navbar's suggestions show a few; the page itself shows more.
    results = global_search(user=request.user, query=query, limit=8 if request.htmx else 25)
    template = "crm/search.html#search-results" if request.htmx else "crm/search.html"
    return render(request, template, {"results": results, "search_query": query, "form": form})
