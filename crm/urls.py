from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", include("crm.top.urls")),
    path("cuentas/", include("accounts.urls")),
    path("contactos/", include("contacts.urls")),
    path("ventas/", include("opportunities.urls")),
    path("soporte/", include("support.urls")),
    path("campanas/", include("campaigns.urls")),
    path("m/", include("campaigns.urls.public")),
    path("api/v1/", include(("crm.top.api", "api"))),
    path("i18n/", include("django.conf.urls.i18n")),
    # The admin's own sign-in form would skip the second step: everyone signs in at crm:login.
    path(
        "admin/login/",
        login_not_required(RedirectView.as_view(pattern_name="crm:login", query_string=True)),
    ),
    path("admin/", admin.site.urls),
]

# A database that cannot be reached answers 503 with Retry-After, anything else the 500 page.
handler500 = "crm.core.views.server_error"

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
