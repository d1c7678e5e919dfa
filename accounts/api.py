"""Accounts in the REST API (issue 11): read through accounts.selectors, written through
accounts.services, with the list page's filters (crm.core.api.drf has the shared parts)."""

from django.http import QueryDict
from rest_framework import mixins, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts import selectors, services
from accounts.forms import AccountFilterForm
from accounts.models import Account
from crm.core.api.drf import ApiViewSet, SparseFieldsMixin, TagsField, VersionedMixin
from crm.core.models import User
from crm.core.permissions import assignable_owners


class AccountSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False)
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if "owner" in self.fields and request is not None and request.user.is_authenticated:
            self.fields["owner"].queryset = assignable_owners(request.user)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "owner" in data:
            data["owner"] = instance.owner_id
        return data


def list_filters(params: QueryDict) -> dict:
    """The list page's filters (same names, same meaning) from the query string."""
    return AccountFilterForm(params).filters()


class AccountViewSet(
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

    def get_queryset(self):
        filters = list_filters(self.request.query_params)
        return selectors.account_list(user=self.request.user, filters=filters)

    def get_object(self):
        try:
            account = selectors.account_base(user=self.request.user).get(pk=self.kwargs["pk"])
        except (Account.DoesNotExist, ValueError) as exc:
            raise NotFound() from exc
        self.check_object_permissions(self.request, account)
        return account

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        owner, tags = data.pop("owner", None), data.pop("tags", None)
        serializer.instance = services.account_create(
            actor=self.request.user, data=data, owner=owner, tags=tags
        )

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        account = self.get_object()
        version = self.checked_version(account)
        serializer = self.get_serializer(account, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner, tags = data.pop("owner", None), data.pop("tags", None)
        account = services.account_update(
            actor=request.user, account=account, data=data, owner=owner, tags=tags, version=version
        )
        return self.versioned(Response(self.get_serializer(account).data), account)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


ROUTES = [("accounts", AccountViewSet, "account")]
