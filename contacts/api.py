"""Contacts in the REST API (issue 11): read through contacts.selectors, written through
contacts.services. Consent is read with the contact and changed only through its own endpoint,
which appends to the ledger (never a field to overwrite)."""

from django.http import QueryDict
from django.utils.translation import gettext_lazy
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Account
from contacts import selectors, services
from contacts.forms import ContactFilterForm
from contacts.models import Consent, Contact, Topic
from crm.core.api.drf import (
    ApiViewSet,
    OwnedRecordWriteMixin,
    OwnerField,
    SparseFieldsMixin,
    TagsField,
    VersionedMixin,
)
from crm.core.forms_utils import client_ip


class ContactSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    owner = OwnerField()
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.filter(archived_at__isnull=True), required=False, allow_null=True
    )
    tags = TagsField(required=False)
    email_consent = serializers.SerializerMethodField(
        help_text="grant, withdraw, or null (never asked): the latest entry of the email ledger."
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            *services.CONTACT_FIELDS,
            "owner",
            "tags",
            "email_consent",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        # The score is the rules' (contacts.scoring), recomputed at each event and nightly.
        read_only_fields = ["lead_score", "archived_at", "created_at", "updated_at"]

    def get_email_consent(self, contact) -> str | None:
        if hasattr(contact, "email_consent"):
            return contact.email_consent
        return (
            contact.consent_latest.filter(channel=Consent.Channel.EMAIL, topic__isnull=True)
            .values_list("action", flat=True)
            .first()
        )


class ConsentSerializer(serializers.ModelSerializer):
    """A ledger entry: what was recorded, when, how, by whom."""

    topic = serializers.SlugRelatedField(
        slug_field="name", queryset=Topic.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Consent
        fields = [
            "id",
            "action",
            "channel",
            "topic",
            "legal_basis",
            "source",
            "text_version",
            "note",
            "at",
            "recorded_by",
        ]
        read_only_fields = ["id", "at", "recorded_by"]
        extra_kwargs = {"source": {"required": False}, "legal_basis": {"required": False}}


def list_filters(params: QueryDict) -> dict:
    """The list page's filters (same names, same meaning) from the query string."""
    return ContactFilterForm.filters_from(params)


class ContactViewSet(
    OwnedRecordWriteMixin,
    VersionedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    ApiViewSet,
):
    """People (contactos). Every role reads every contact; reps change their own."""

    api_area = "contacts"
    serializer_class = ContactSerializer
    version_fields = (*services.CONTACT_FIELDS, "owner", "tags")
    orderings = ("id", "last_name", "updated_at")
    not_found = gettext_lazy("No existe ese contacto.")

    def get_queryset(self):
        filters = list_filters(self.request.query_params)
        if self.action == "list" and not filters:
            # The same rows in the same order, each page's SQL kept per process and prepared
            # (crm.core.db.KeptQuery): what the paginator does to it is all it is asked.
            return selectors.contact_api_pages(user=self.request.user)
        return selectors.contact_api_list(user=self.request.user, filters=filters)

    def select_object(self, pk: int) -> Contact:
        return selectors.contact_detail(user=self.request.user, pk=pk)

    def create_record(self, *, data, owner, tags) -> Contact:
        return services.contact_create(actor=self.request.user, data=data, owner=owner, tags=tags)

    def update_record(self, contact, *, data, owner, tags, version) -> Contact:
        return services.contact_update(
            actor=self.request.user,
            contact=contact,
            data=data,
            owner=owner,
            tags=tags,
            version=version,
        )

    @action(detail=True, methods=["get", "post"], serializer_class=ConsentSerializer)
    def consent(self, request, pk=None):
        """GET: the contact's consent ledger, newest first. POST: append a grant or a
        withdrawal (recorded as made by the key's user, with the caller's address)."""
        contact = self.get_object()
        if request.method == "GET":
            entries = selectors.contact_consent_ledger(contact=contact)
            return Response(ConsentSerializer(entries, many=True).data)
        serializer = ConsentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        entry = services.consent_record(
            contact=contact,
            action=data["action"],
            channel=data.get("channel", Consent.Channel.EMAIL),
            topic=data.get("topic"),
            source=data.get("source") or Consent.Source.STAFF,
            actor=request.user,
            legal_basis=data.get("legal_basis", Consent.LegalBasis.CONSENT),
            text_version=data.get("text_version", ""),
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
            note=data.get("note", ""),
        )
        return Response(ConsentSerializer(entry).data, status=status.HTTP_201_CREATED)


ROUTES = [("contacts", ContactViewSet, "contact")]
