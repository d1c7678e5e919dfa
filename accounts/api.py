"""Accounts in the REST API (issue 11): read through accounts.selectors, written through
accounts.services, with the list page's filters (crm.core.api.drf has the shared parts)."""

from django.http import QueryDict
from django.utils.translation import gettext_lazy
from rest_framework import mixins, serializers

from accounts import selectors, services
from accounts.forms import AccountFilterForm
from accounts.models import Account
from crm.core.api.drf import (
    ApiViewSet,
    OwnedRecordWriteMixin,
    OwnerField,
    SparseFieldsMixin,
    TagsField,
    VersionedMixin,
)


class AccountSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    owner = OwnerField()
    tags = TagsField(required=False)
    tier = serializers.CharField(read_only=True)

    class Meta:
        model = Account
        fields = [
            "id",
            *services.ACCOUNT_FIELDS,
            "tier",
            "owner",
            "tags",
            "archived_at",
            "last_contacted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["archived_at", "last_contacted_at", "created_at", "updated_at"]


def list_filters(params: QueryDict) -> dict:
    """The list page's filters (same names, same meaning) from the query string."""
    return AccountFilterForm.filters_from(params)


class AccountViewSet(
    OwnedRecordWriteMixin,
    VersionedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    ApiViewSet,
):
    """Customer companies (cuentas). Every role reads every account; reps change their own."""

    api_area = "accounts"
    serializer_class = AccountSerializer
    version_fields = (*services.ACCOUNT_FIELDS, "owner", "tags")
    orderings = ("id", "name", "updated_at")
    not_found = gettext_lazy("No existe esa cuenta.")

    def get_queryset(self):
        filters = list_filters(self.request.query_params)
        return selectors.account_api_list(user=self.request.user, filters=filters)

    def select_object(self, pk: int) -> Account:
        return selectors.account_base(user=self.request.user).get(pk=pk)

    def create_record(self, *, data, owner, tags) -> Account:
        return services.account_create(actor=self.request.user, data=data, owner=owner, tags=tags)

    def update_record(self, account, *, data, owner, tags, version) -> Account:
        return services.account_update(
            actor=self.request.user,
            account=account,
            data=data,
            owner=owner,
            tags=tags,
            version=version,
        )


ROUTES = [("accounts", AccountViewSet, "account")]
