"""The public side, reached from a message (no login): tracking, unsubscribe, preferences.

Short paths under /m/, since they are in every message: /m/o/<token>.gif (open pixel),
/m/c/<token>/<link>/ (click), /m/baja/<token>/ (RFC 8058 one-click), /m/preferencias/<token>/.
The ESP's tracking webhooks (django-anymail's own views and URL names) are at
/m/anymail/<esp>/tracking/, each behind `views.webhook_secret_required`.
"""

from anymail import urls as anymail_urls
from django.urls import URLPattern, include, path

from campaigns.views import automations as automation_views
from campaigns.views import public as views

app_name = "campaigns_public"

anymail_patterns = [
    URLPattern(
        pattern.pattern,
        views.webhook_secret_required(pattern.callback),
        pattern.default_args,
        pattern.name,
    )
    for pattern in anymail_urls.urlpatterns
]

urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open"),
    path("c/<str:token>/<int:link_id>/", views.click, name="click"),
    path("baja/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preferencias/<str:token>/", views.preferences, name="preferences"),
    path(
        "auto/baja/<str:token>/",
        automation_views.automation_unsubscribe,
        name="automation-unsubscribe",
    ),
    path("anymail/", include((anymail_patterns, anymail_urls.app_name))),
]
