"""The public side, reached from a message (no login): tracking, unsubscribe, preferences.

Short paths under /m/, since they are in every message: /m/o/<token>.gif (open pixel),
/m/c/<token>/<link>/ (click), /m/baja/<token>/ (RFC 8058 one-click), /m/preferencias/<token>/.
"""

app_name = "campaigns_public"

urlpatterns: list = []
