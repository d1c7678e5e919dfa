"""The user's personal API keys (issue 11), on the account's security page: create one (shown
once), see when each was last used, revoke it."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.api.tokens import (
    AREAS,
    EXPIRY_DAYS,
    READ_ONLY_AREAS,
    scope_labels,
    token_create,
    token_revoke,
)
from crm.core.forms_utils import add_service_errors, client_ip
from crm.core.models import ApiToken

SHOWN_KEY = "crm_api_key_once"


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Nombre"),
        max_length=100,
        help_text=gettext_lazy("Dónde la usarás: «Tienda en línea», «Centralita», «ERP»…"),
    )
    days = forms.TypedChoiceField(
        label=gettext_lazy("Caduca en"),
        coerce=int,
        choices=[(d, gettext_lazy("%(n)s días") % {"n": d}) for d in EXPIRY_DAYS],
        initial=90,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for area, label in AREAS.items():
            choices = [("", _("Sin acceso")), ("read", _("Leer"))]
            if area not in READ_ONLY_AREAS:
                choices.append(("write", _("Leer y modificar")))
            self.fields[f"area_{area}"] = forms.ChoiceField(
                label=label, choices=choices, required=False
            )

    def area_fields(self):
        return [self[f"area_{area}"] for area in AREAS]

    def scopes(self) -> list[str]:
        return [
            f"{area}:{self.cleaned_data[f'area_{area}']}"
            for area in AREAS
            if self.cleaned_data.get(f"area_{area}")
        ]


@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _token, key = token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.scopes(),
                days=form.cleaned_data["days"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # Shown once, on the next page (then forgotten: only its hash is kept).
            request.session[SHOWN_KEY] = key
            return redirect("crm:api-tokens")
    tokens = list(ApiToken.objects.filter(user=request.user).order_by("revoked_at", "-created_at"))
    for token in tokens:
        token.scope_labels = scope_labels(token.scopes)
    return render(
        request,
        "registration/api_tokens.html",
        {
            "form": form,
            "tokens": tokens,
            "new_key": request.session.pop(SHOWN_KEY, None),
            "areas": AREAS,
        },
    )


@require_POST
def api_token_revoke(request, pk: int):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token_revoke(actor=request.user, token=token, ip=client_ip(request))
    messages.success(
        request, _("Clave «%(name)s» revocada: ya no abre la API.") % {"name": token.name}
    )
    return redirect("crm:api-tokens")
