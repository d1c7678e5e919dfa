"""Tickets in the REST API (issue 11): read through support.selectors with the visibility of the
pages (support and administrators all, a rep the tickets of the accounts they own, a manager
those of their teams' accounts, marketing none), written through support.services with their
rules (who opens, who works, the status machine, the SLA clock, the conversation's email).

A phone system or a web form opens a ticket with POST; support changes it with PATCH and
If-Match (the fields of the edit form, the assignee, the status with its resolution), and
reads or adds to its conversation at /tickets/{id}/comments/ (a message with files as
multipart/form-data, through the page's service and limits); a file downloads at
/tickets/{id}/attachments/{attachment_pk}/, through the page's download and its permission check.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from accounts.models import Account
from contacts.models import Contact
from crm.core.api.drf import (
    ApiViewSet,
    SparseFieldsMixin,
    VersionedMixin,
    enum_field,
    etag,
)
from support.forms.tickets import ticket_list_state
from support.models import Attachment, Comment, Priority, Ticket
from support.permissions import can_see_tickets, can_work_tickets, support_agents
from support.selectors import comments as comment_selectors
from support.selectors import sla as sla_selectors
from support.selectors import tickets as selectors
from support.services import comments as comment_services
from support.services import tickets as services
from support.services.comments import BODY_MAX_CHARS
from support.views import comments as comment_views

SLA_FLAGS = [sla_selectors.OK, sla_selectors.SOON, sla_selectors.BREACHED]
# The fields a PATCH changes through ticket_update (the edit form's); the others move apart.
EDIT_FIELDS = services.UPDATE_FIELDS


SlaFlag = enum_field("SlaFlagEnum", [(flag, flag) for flag in SLA_FLAGS])
TicketStatus = enum_field("TicketStatusEnum", Ticket.Status.choices)
TicketChannel = enum_field("TicketChannelEnum", Ticket.Channel.choices)
CommentKind = enum_field("CommentKindEnum", Comment.Kind.choices)


# --- serializers ------------------------------------------------------------------------------


class TicketSlaSerializer(serializers.Serializer):
    """The SLA clock as the queues' badges read it (support.selectors.tickets.with_sla_flags)."""

    state = SlaFlag(source="sla_state", help_text="The worse of the two targets.")
    first_response = SlaFlag(source="sla.first_response")
    resolution = SlaFlag(source="sla.resolution")
    first_response_due = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True)
    next_due = serializers.DateTimeField(
        allow_null=True,
        help_text="The due time of the next target; null while no clock runs (waiting for the "
        "customer, resolved, closed).",
    )
    first_response_breached = serializers.BooleanField()
    resolution_breached = serializers.BooleanField()
    paused = serializers.SerializerMethodField()

    def get_paused(self, ticket) -> bool:
        return ticket.paused_at is not None


class TicketSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """A ticket as the API answers it (read only: the writes have their own shapes below)."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    contact_name = serializers.SerializerMethodField()
    assignee_name = serializers.SerializerMethodField()
    status = TicketStatus(read_only=True)
    channel = TicketChannel(read_only=True)
    sla = TicketSlaSerializer(source="*", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "account",
            "account_name",
            "contact",
            "contact_name",
            "subject",
            "description",
            "category",
            "channel",
            "priority",
            "status",
            "assignee",
            "assignee_name",
            "created_by",
            "resolution",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "sla",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_contact_name(self, ticket) -> str | None:
        return ticket.contact.full_name if ticket.contact_id else None

    def get_assignee_name(self, ticket) -> str | None:
        return str(ticket.assignee) if ticket.assignee_id else None

    def to_representation(self, instance):
        if not hasattr(instance, "sla_state"):
            selectors.with_sla_flags([instance])
        return super().to_representation(instance)


class TicketCreateSerializer(serializers.ModelSerializer):
    """Open a ticket: support for any customer, a rep or a manager for one of theirs (the
    service says so, as the page does). The assignee is support's to choose."""

    # Any account or contact: whether this user may open a ticket for it is the service's rule
    # (its message says why), not a "does not exist" that would hide it.
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=support_agents(), required=False, allow_null=True
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(
        choices=Ticket.Category.choices, default=Ticket.Category.INCIDENT
    )
    channel = TicketChannel(default=Ticket.Channel.PHONE)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.MEDIUM)

    class Meta:
        model = Ticket
        fields = [
            "account",
            "contact",
            "subject",
            "description",
            "category",
            "channel",
            "priority",
            "assignee",
        ]


class TicketUpdateSerializer(serializers.Serializer):
    """What support changes: the edit form's fields, the assignee (null: nobody), and the
    status (with the resolution when resolving or closing, and an optional note)."""

    subject = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Ticket.Category.choices, required=False)
    channel = TicketChannel(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=support_agents(), required=False, allow_null=True
    )
    status = TicketStatus(required=False)
    resolution = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="A note on the status change, kept in the ticket's history.",
    )


class AttachmentSerializer(serializers.ModelSerializer):
    size = serializers.IntegerField(read_only=True, help_text="In bytes.")
    url = serializers.SerializerMethodField(
        help_text="The download through the API (with the same key), for whoever sees the "
        "ticket: the page's download and its permission check."
    )

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "url"]
        read_only_fields = fields

    def get_url(self, attachment) -> str:
        return reverse("api:ticket-attachment", args=[attachment.ticket_id, attachment.pk])


class CommentSerializer(serializers.ModelSerializer):
    """A message of the conversation: a public reply (emailed to the contact), an internal
    note (never sent), or what the customer said, recorded by an agent."""

    kind = CommentKind(read_only=True)
    author_name = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "kind",
            "author",
            "author_name",
            "body",
            "created_at",
            "emailed_at",
            "attachments",
        ]
        read_only_fields = fields

    def get_author_name(self, comment) -> str | None:
        return str(comment.author) if comment.author_id else None


class CommentCreateSerializer(serializers.Serializer):
    kind = CommentKind(default=Comment.Kind.REPLY)
    body = serializers.CharField(max_length=BODY_MAX_CHARS)


class CommentUploadSerializer(CommentCreateSerializer):
    """A message with files, as multipart/form-data: one `files` part per file. The files are
    checked as on the page (support.services.comments: the allowed types, their content, the
    size of each, how many), all of them before anything is written."""

    files = serializers.ListField(
        # Empty files too: the service refuses them, with the page's message.
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        default=list,
        help_text="The files to attach to the message.",
    )


class DownloadRenderer(BaseRenderer):
    """Lets a download be asked for with any Accept header (a file answers its own type); an
    error is still problem details in JSON."""

    media_type = "*/*"
    format = "json"  # what it renders itself: the errors

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, "application/json", renderer_context)


# --- the viewset ------------------------------------------------------------------------------

LIST_PARAMETERS = [
    OpenApiParameter(
        "queue",
        str,
        enum=list(selectors.QUEUES),
        description="The queue, as the list's tabs: empty for every open ticket, «all» also "
        "the resolved and closed ones.",
    ),
    OpenApiParameter("status", str, many=True, enum=Ticket.Status.values),
    OpenApiParameter("priority", str, many=True, enum=Priority.values),
    OpenApiParameter("category", str, many=True, enum=Ticket.Category.values),
    OpenApiParameter("channel", str, many=True, enum=Ticket.Channel.values),
    OpenApiParameter("assignee", int),
    OpenApiParameter("account", int),
    OpenApiParameter("contact", int),
    OpenApiParameter("created_from", str, description="YYYY-MM-DD"),
    OpenApiParameter("created_to", str, description="YYYY-MM-DD"),
    OpenApiParameter("q", str, description="Number, subject, account or contact."),
    OpenApiParameter("ordering", str, description="id, created_at or updated_at (- for desc)."),
    OpenApiParameter("fields", str, description="Only these fields, comma-separated."),
]


class TicketViewSet(VersionedMixin, mixins.ListModelMixin, ApiViewSet):
    """Incidencias. Support and administrators see and work every ticket; a rep reads the
    tickets of the accounts they own and opens one for them; a manager those of their team's
    accounts; marketing reads none (403)."""

    api_area = "support"
    serializer_class = TicketSerializer
    version_fields = services.VERSION_FIELDS
    orderings = ("id", "created_at", "updated_at")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not can_see_tickets(request.user):
            raise exceptions.PermissionDenied(_("Tu rol no tiene acceso a las incidencias."))

    def _require_worker(self, message: str) -> None:
        if not can_work_tickets(self.request.user):
            raise exceptions.PermissionDenied(message)

    def get_queryset(self):
        _form, filters, queue = ticket_list_state(self.request.query_params)
        return selectors.ticket_list(user=self.request.user, queue=queue, filters=filters)

    not_found = gettext_lazy("No existe esa incidencia.")

    def select_object(self, pk: int) -> Ticket:
        return selectors.ticket_visible(user=self.request.user, pk=pk)

    def _locked(self) -> Ticket:
        """The visible ticket, locked until the transaction ends: If-Match is compared with the
        row no one else can change before the services below have written."""
        try:
            return (
                selectors.ticket_base(user=self.request.user)
                .select_for_update(of=("self",))
                .select_related("account", "contact", "assignee")
                .get(pk=self.kwargs["pk"])
            )
        except (Ticket.DoesNotExist, ValueError) as exc:
            raise NotFound(_("No existe esa incidencia.")) from exc

    @extend_schema(parameters=LIST_PARAMETERS)
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = selectors.with_sla_flags(page)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketSerializer})
    def create(self, request, *args, **kwargs):
        serializer = TicketCreateSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_create(actor=request.user, **serializer.validated_data)
        response = Response(self.get_serializer(ticket).data, status=status.HTTP_201_CREATED)
        response["Location"] = reverse("api:ticket-detail", args=[ticket.pk])
        response["ETag"] = etag(ticket, self.version_fields)
        return response

    @extend_schema(
        request=TicketUpdateSerializer,
        responses=TicketSerializer,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="The ETag of the ticket as you read it.",
            )
        ],
    )
    def partial_update(self, request, *args, **kwargs):
        """Change the ticket: the edit form's fields (ticket_update), the assignee
        (ticket_assign) and the status (ticket_transition, with the resolution and a note), all
        or nothing."""
        self.get_object()  # 404 before anything else
        self._require_worker(_("Solo el equipo de soporte trabaja las incidencias."))
        with transaction.atomic():
            ticket = self._locked()
            version = self.checked_version(ticket)
            serializer = TicketUpdateSerializer(
                data=request.data, context=self.get_serializer_context()
            )
            serializer.is_valid(raise_exception=True)
            self._apply(ticket, serializer.validated_data, version)
        ticket = self.get_object()
        response = Response(self.get_serializer(ticket).data)
        response["ETag"] = etag(ticket, self.version_fields)
        return response

    def _apply(self, ticket: Ticket, data: dict, version: str) -> None:
        actor = self.request.user
        edits = {name: data[name] for name in EDIT_FIELDS if name in data}
        to_status = data.get("status", ticket.status)
        moving = to_status != ticket.status
        resolution = data.get("resolution")
        if resolution is not None and not moving and resolution.strip() != ticket.resolution:
            raise serializers.ValidationError(
                {
                    "resolution": [
                        _(
                            "La resolución se escribe al resolver o cerrar la incidencia: "
                            "envíala junto con el nuevo estado."
                        )
                    ]
                }
            )
        # The version is checked once, by the first service that runs, against the ticket as
        # the request found it: the later ones see the earlier one's change (the row is locked
        # for the whole request, so that change is the only one), not a stale read.
        if edits:
            ticket = services.ticket_update(actor=actor, ticket=ticket, data=edits, version=version)
            version = None
        if "assignee" in data and data["assignee"] != ticket.assignee:
            ticket = services.ticket_assign(
                actor=actor, ticket=ticket, assignee=data["assignee"], version=version
            )
            version = None
        if moving:
            try:
                services.ticket_transition(
                    actor=actor,
                    ticket=ticket,
                    to_status=to_status,
                    resolution=resolution or "",
                    note=data.get("note", ""),
                    version=version,
                )
            except DjangoValidationError as exc:
                # The service names the move's field as its form does; here it is "status".
                if hasattr(exc, "error_dict") and "to_status" in exc.error_dict:
                    exc.error_dict["status"] = exc.error_dict.pop("to_status")
                raise

    @extend_schema(methods=["GET"], responses=CommentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request={
            "application/json": CommentCreateSerializer,
            "application/x-www-form-urlencoded": CommentCreateSerializer,
            "multipart/form-data": CommentUploadSerializer,
        },
        responses={201: CommentSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=CommentSerializer,
        parser_classes=[JSONParser, FormParser, MultiPartParser],
    )
    def comments(self, request, pk=None):
        """GET: the ticket's conversation, oldest first (internal notes included: they are
        hidden from the customer, not from the team), with each message's files. POST: a public
        reply (emailed to the contact after the commit, the first one stamps the first
        response), an internal note, or the customer's message (reopens a waiting or resolved
        ticket); with files, as multipart/form-data: all of them are checked first, and a
        refused one writes nothing, not the message either."""
        ticket = self.get_object()
        if request.method == "GET":
            rows = comment_selectors.conversation(ticket=ticket)
            return Response(CommentSerializer(rows, many=True).data)
        self._require_worker(
            _("Puedes leer la conversación, pero solo el equipo de soporte escribe en ella.")
        )
        # Refused by its declared length before the body is read, as the page does.
        if comment_services.upload_too_large(request.META.get("CONTENT_LENGTH")):
            raise serializers.ValidationError(
                {"files": [comment_services.upload_too_large_message()]}
            )
        serializer = CommentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = comment_services.comment_add(
            actor=request.user,
            ticket=ticket,
            kind=serializer.validated_data["kind"],
            body=serializer.validated_data["body"],
            files=serializer.validated_data["files"],
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "attachment_pk", int, OpenApiParameter.PATH, description="The file's id."
            )
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_pk>\d+)",
        url_name="attachment",
        renderer_classes=[JSONRenderer, DownloadRenderer],
    )
    def attachment(self, request, pk=None, attachment_pk=None):
        """A file of the ticket or of one of its messages, always as a download (never
        rendered by a browser): the page's download, with its permission check (whoever sees
        the ticket), answered with the file's content type."""
        ticket = self.get_object()
        if not Attachment.objects.filter(pk=int(attachment_pk), ticket_id=ticket.pk).exists():
            raise NotFound(_("No existe ese archivo."))
        return comment_views.attachment_download(request._request, pk=int(attachment_pk))


ROUTES = [("tickets", TicketViewSet, "ticket")]
