"""The REST API's root (issue 11): `/api/v1/`, its OpenAPI schema and documentation, and the
endpoints that compose several apps (the caller lookup for a phone system)."""

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import APIRootView, DefaultRouter

from accounts import api as accounts_api
from campaigns import api as campaigns_api
from contacts import api as contacts_api
from crm.core.api import schema  # noqa: F401 (registers the key's security scheme)
from crm.core.api.drf import ApiViewSet
from crm.top.caller import caller_lookup
from opportunities import api as opportunities_api
from support import api as support_api


class CallerPhoneSerializer(serializers.Serializer):
    label = serializers.CharField()
    number = serializers.CharField()
    e164 = serializers.CharField()
    matched = serializers.BooleanField()
    mobile = serializers.BooleanField()


class CallerHitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["contact", "account"])
    id = serializers.IntegerField(source="record.pk")
    name = serializers.CharField()
    url = serializers.CharField(help_text="The record's sheet in the CRM (a path).")
    account_id = serializers.IntegerField(source="account.pk", allow_null=True, default=None)
    account_name = serializers.CharField(source="account.name", allow_null=True, default=None)
    phones = CallerPhoneSerializer(many=True)
    open_tickets = serializers.IntegerField(allow_null=True)


class CallerResultsSerializer(serializers.Serializer):
    query = serializers.CharField()
    contacts = CallerHitSerializer(many=True)
    accounts = CallerHitSerializer(many=True)
    more_contacts = serializers.BooleanField()
    more_accounts = serializers.BooleanField()


class CallerViewSet(ApiViewSet):
    """Who is calling: the contacts and accounts whose phone matches, best first (the same
    search as the ¿Quién llama? screen)."""

    api_area = "contacts"
    serializer_class = CallerResultsSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "phone", str, required=True, description="El número, o al menos 3 dígitos."
            )
        ]
    )
    def list(self, request):
        phone = request.query_params.get("phone", "")
        results = caller_lookup(user=request.user, query=phone)
        if not results.searched:
            raise ValidationError({"phone": [_("Escribe al menos tres dígitos del teléfono.")]})
        return Response(CallerResultsSerializer(results).data)


class Root(APIRootView):
    """The CRM's REST API, version 1. Authenticate with a personal key from your profile
    (`Authorization: Bearer crm_…`); the documentation is at /api/v1/docs/."""

    @classmethod
    def as_view(cls, **initkwargs):
        return login_not_required(super().as_view(**initkwargs))


class Router(DefaultRouter):
    APIRootView = Root


router = Router(trailing_slash=True)
# Each app's api module lists its resources as ROUTES: (prefix, viewset, basename).
for routes in (
    accounts_api.ROUTES,
    contacts_api.ROUTES,
    opportunities_api.ROUTES,
    support_api.ROUTES,
    campaigns_api.ROUTES,
    [("caller", CallerViewSet, "caller")],
):
    for prefix, viewset, basename in routes:
        router.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("", include(router.urls)),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    # A page for people: without a session, the sign-in page (not a 401).
    path(
        "docs/",
        login_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="api:schema", template_name="api/swagger_ui.html"
            )
        ),
        name="docs",
    ),
]
