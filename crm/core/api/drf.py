"""Django REST Framework's pieces as this project wants them (settings.REST_FRAMEWORK).

- Authentication, scopes, rate limits and pagination are in crm.core.api.auth.
- `problem_response`: every error as RFC 9457 problem details (`application/problem+json`),
  translated; the services' Django ValidationError and PermissionDenied included.
- `VersionedMixin`: an ETag on every record, `If-Match` required to change one (428 without it,
  412 when it is stale), built on crm.core.concurrency's version of the row.
- `SparseFieldsMixin`: `?fields=id,name` returns only those fields; with it every serializer
  has `QuickRowsMixin`, DRF's answer at a lower cost per request and per row.
- `ApiViewSet`: the base of every viewset (the site's login-required middleware leaves the API
  to these authentication classes, which answer 401 as problem details instead of a redirect).
"""

from __future__ import annotations

import copy
import hashlib
import http
import json
import weakref
from collections.abc import Mapping
from functools import cached_property

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.fields import SkipField
from rest_framework.permissions import SAFE_METHODS
from rest_framework.relations import PKOnlyObject
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from crm.core.concurrency import StaleEdit, version_data, version_token
from crm.core.models import User
from crm.core.permissions import assignable_owners

PROBLEM = "application/problem+json"


# --- errors as problem details ----------------------------------------------------------------

TITLES = {
    400: gettext_lazy("Datos no válidos"),
    401: gettext_lazy("Falta autenticación"),
    403: gettext_lazy("Sin permiso"),
    404: gettext_lazy("No encontrado"),
    405: gettext_lazy("Método no permitido"),
    406: gettext_lazy("Formato no disponible"),
    409: gettext_lazy("Conflicto"),
    412: gettext_lazy("El registro cambió desde que lo leíste"),
    415: gettext_lazy("Tipo de contenido no admitido"),
    428: gettext_lazy("Falta la versión del registro"),
    429: gettext_lazy("Demasiadas peticiones"),
}


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = gettext_lazy(
        "Envía la cabecera If-Match con la ETag del registro que leíste: así nadie sobrescribe "
        "sin saberlo los cambios de otro."
    )
    default_code = "precondition_required"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = gettext_lazy(
        "El registro cambió desde que lo leíste: vuelve a leerlo y aplica tus cambios otra vez."
    )
    default_code = "precondition_failed"


def _title(code: int) -> str:
    if code in TITLES:
        return str(TITLES[code])
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return str(code)


def problem_response(exc, context):
    """DRF's exception handler, answering every error as problem details (RFC 9457)."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, StaleEdit):
        exc = PreconditionFailed()
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    problem = {"type": "about:blank", "title": _title(response.status_code)}
    problem["status"] = response.status_code
    if isinstance(data, dict) and set(data) == {"detail"}:
        problem["detail"] = str(data["detail"])
    else:
        problem["detail"] = _("Revisa los campos señalados en «errors».")
        problem["errors"] = data if isinstance(data, dict) else {"non_field_errors": data}
    request = context.get("request")
    if request is not None:
        problem["instance"] = request.path
    response.data = problem
    response["Content-Type"] = PROBLEM
    response.content_type = PROBLEM
    return response


# --- pagination, versions, fields -------------------------------------------------------------


def etag(row, fields) -> str:
    """The row's version over `fields`, as an HTTP entity tag: the same while the row is
    (a hash of the version's data, not of a signed token, which carries its signing time)."""
    data = json.dumps(version_data(row, fields), sort_keys=True, default=str)
    return f'"{hashlib.sha256(data.encode()).hexdigest()[:32]}"'


class VersionedMixin:
    """ETag on retrieve; If-Match required on update (428), checked (412), and the version
    handed to the service, which checks it again under its row lock (crm.core.concurrency)."""

    version_fields: tuple[str, ...] = ()

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag(instance, self.version_fields)
        return response

    def checked_version(self, instance) -> str:
        """The version token to pass to the service, once If-Match names the current row."""
        wanted = self.request.headers.get("If-Match", "").strip()
        if not wanted:
            raise PreconditionRequired()
        current = version_token(instance, self.version_fields)
        tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
        if "*" not in tags and etag(instance, self.version_fields) not in tags:
            raise PreconditionFailed()
        return current

    def versioned(self, response: Response, instance) -> Response:
        instance.refresh_from_db()
        response["ETag"] = etag(instance, self.version_fields)
        return response


_MISSING = object()

# Fields with nothing inside them that binding to a serializer or answering changes: a shallow
# copy is a field of its own (bind() sets its name, parent, label and source on the copy). The
# deep copy DRF makes of each re-runs its __init__ (a ChoiceField of the 600 time zones rebuilds
# its choices, a relation copies its queryset's whole query). Fields that hold other fields
# (lists, many relations, nested serializers) are deep-copied, as DRF does.
_SHALLOW_COPIED = (
    serializers.BooleanField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.DecimalField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.JSONField,
    serializers.PrimaryKeyRelatedField,
    serializers.SerializerMethodField,
)
_DEEP_COPIED = (
    serializers.BaseSerializer,
    serializers.DictField,
    serializers.ListField,
    serializers.ManyRelatedField,
    serializers.MultipleChoiceField,
)


def _field_copy(field: serializers.Field) -> serializers.Field:
    if isinstance(field, _SHALLOW_COPIED) and not isinstance(field, _DEEP_COPIED):
        return copy.copy(field)
    return copy.deepcopy(field)


class QuickRowsMixin:
    """What a serializer costs per request and per row, cut without changing its answer.

    - Its fields are built from the model once per class and process (`get_fields`), then
      copied for each serializer (`_field_copy`): DRF introspects every model field again for
      every serializer (0.75 ms for a contact's 25 fields). Copies, never the built ones: DRF
      binds each field to its serializer. What is kept is ModelSerializer's own `get_fields`,
      the same for every request: a serializer whose fields depend on the request (who asks)
      changes them in its own `get_fields`, on the copy it gets (CampaignSerializer).
    - A row reads a plain field's value with one `getattr` (`to_representation`). DRF's generic
      path walks the field's source with an isinstance check and a callable check per value,
      1,250 times for a page of 50 contacts. A field with its own way to read (relations, method
      fields, tags, a dotted source), a missing attribute and a callable value go through DRF's
      own `get_attribute`, with its defaults, nulls and skipped fields. A relation answered by
      id reads the row's id column; a date and time field looks the time zone up once.
    """

    # Weak: a serializer class made at run time (drf-spectacular makes some) leaves with it.
    _built_fields: weakref.WeakKeyDictionary[type, dict] = weakref.WeakKeyDictionary()

    def get_fields(self):
        built = QuickRowsMixin._built_fields.get(type(self))
        if built is None:
            built = QuickRowsMixin._built_fields[type(self)] = super().get_fields()
        return {name: _field_copy(field) for name, field in built.items()}

    @cached_property
    def _row_plan(self) -> list[tuple[str, str | None, serializers.Field, bool, type | None]]:
        """(name, attribute read directly or None, field, whether that attribute's value is
        the answer as it is, the type of value that is its own answer) of each field an answer
        shows. A relation answered by id reads the row's own column (`owner_id`), as DRF's
        answer is that id. A date and time field takes the request's time zone once, not once
        per value (DRF looks it up per value). A text, a whole number, a yes/no and a choice
        among texts are their own answers (`_answered_as_is`)."""
        model = getattr(getattr(self, "Meta", None), "model", None)
        plan = []
        for field in self._readable_fields:
            attribute_name, raw = None, False
            if len(field.source_attrs) == 1:
                source = field.source_attrs[0]
                if type(field).get_attribute is serializers.Field.get_attribute:
                    attribute_name = source
                elif isinstance(field, serializers.PrimaryKeyRelatedField) and (
                    column := _id_column(model, source) if field.pk_field is None else None
                ):
                    attribute_name, raw = column, True
            if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
                field.timezone = field.default_timezone()
            plan.append((field.field_name, attribute_name, field, raw, _answered_as_is(field)))
        return plan

    def to_representation(self, instance):
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        row = {}
        for name, attribute_name, field, raw, as_is in self._row_plan:
            if attribute_name is None:
                value = _MISSING
            else:
                try:
                    value = getattr(instance, attribute_name)
                except (AttributeError, ObjectDoesNotExist):
                    value = _MISSING  # DRF's own reading below: its default, null or skip
                if (raw and value is not _MISSING) or type(value) is as_is:
                    row[name] = value
                    continue
            if value is _MISSING or callable(value):
                try:
                    value = field.get_attribute(instance)
                except SkipField:
                    continue
                if isinstance(value, PKOnlyObject):
                    row[name] = None if value.pk is None else field.to_representation(value)
                    continue
            row[name] = None if value is None else field.to_representation(value)
        return row


def _answered_as_is(field: serializers.Field) -> type | None:
    """The type of value that DRF's `to_representation` of `field` gives back unchanged: str
    for a text (`str(value)`), int for a whole number (`int(value)`), bool for a yes/no, str for
    a choice whose keys are texts (the key named by the value's text is the value). Exactly
    that type (a subclass, as an enumeration's member, goes through DRF), and only where the
    field's class keeps DRF's own `to_representation`."""
    method = type(field).to_representation
    if method is serializers.CharField.to_representation:
        return str
    if method is serializers.IntegerField.to_representation:
        return int
    if method is serializers.BooleanField.to_representation:
        return bool
    if method is serializers.ChoiceField.to_representation and all(
        type(key) is str and key == text for text, key in field.choice_strings_to_values.items()
    ):
        return str
    return None


def _id_column(model, name: str) -> str | None:
    """`owner_id` for the foreign key `owner` of `model`; None for anything else."""
    if model is None:
        return None
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if model_field.concrete and (model_field.many_to_one or model_field.one_to_one):
        return model_field.attname
    return None


class SparseFieldsMixin(QuickRowsMixin):
    """`?fields=a,b` keeps only those fields of the answer (an unknown one is a 400). Every
    serializer of the API has it, and with it QuickRowsMixin."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        wanted = request.query_params.get("fields") if request is not None else None
        if not wanted or request.method not in SAFE_METHODS:
            return
        names = {name.strip() for name in wanted.split(",") if name.strip()}
        unknown = sorted(names - set(self.fields))
        if unknown:
            raise exceptions.ValidationError(
                {"fields": [_("Campos desconocidos: %(names)s.") % {"names": ", ".join(unknown)}]}
            )
        for name in set(self.fields) - names:
            self.fields.pop(name)

    @cached_property
    def _readable_fields(self) -> list:
        """The fields an answer shows, listed once per serializer (DRF's own property walks
        them again for every row: a page of 50 contacts asked for it 50 times, 1,300 fields).
        A list's rows share one child serializer, whose fields are settled (?fields= above)
        before the first row."""
        return [field for field in self.fields.values() if not field.write_only]


class OwnedRecordWriteMixin:
    """Create and change a record with an owner and tags (accounts, contacts) through the app's
    services: the viewset says how, in `create_record(data, owner, tags)` and
    `update_record(row, data, owner, tags, version)`; the version is If-Match's, checked."""

    @staticmethod
    def _split(validated: dict) -> tuple[dict, object, list[str] | None]:
        data = dict(validated)
        return data, data.pop("owner", None), data.pop("tags", None)

    def perform_create(self, serializer):
        data, owner, tags = self._split(serializer.validated_data)
        serializer.instance = self.create_record(data=data, owner=owner, tags=tags)

    def update(self, request, *args, **kwargs):
        row = self.get_object()
        version = self.checked_version(row)
        serializer = self.get_serializer(row, data=request.data, partial=kwargs.get("partial"))
        serializer.is_valid(raise_exception=True)
        data, owner, tags = self._split(serializer.validated_data)
        row = self.update_record(row, data=data, owner=owner, tags=tags, version=version)
        return self.versioned(Response(self.get_serializer(row).data), row)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


def enum_field(name: str, choices) -> type[serializers.ChoiceField]:
    """A ChoiceField whose OpenAPI enum is the component `name`: apart from the other apps'
    enums of a field with the same name (status, kind, channel), which would collide."""
    values = [value for value, _label in choices]

    @extend_schema_field({"type": "string", "enum": values}, component_name=name)
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    return NamedChoiceField


class OwnerField(serializers.PrimaryKeyRelatedField):
    """A record's owner by id: only the users the requesting user may assign
    (crm.core.permissions.assignable_owners), as on the edit pages."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(queryset=User.objects.none(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or not request.user.is_authenticated:
            return User.objects.none()
        return assignable_owners(request.user)


class TagsField(serializers.ListField):
    """Tag names. Read from the row's own query (`tag_names`, crm.core.search_query) or from the
    list's prefetch (`tag_items`) when the row has either, so a page of rows costs no query
    per row for their tags."""

    child = serializers.CharField(max_length=100)

    def get_attribute(self, instance):
        names = getattr(instance, "tag_names", None)
        if names is not None:
            return list(names)
        items = getattr(instance, "tag_items", None)
        if items is not None:
            return [item.tag.name for item in items]
        return [tag.name for tag in instance.tags.all()]

    def to_representation(self, value):
        return sorted(value)


class ApiViewSet(viewsets.GenericViewSet):
    """The base of the API's viewsets: `api_area` (the scope a key needs), `orderings` (the
    fields `?ordering=` may name, ascending or with "-"; the id breaks ties)."""

    api_area: str | None = None
    orderings: tuple[str, ...] = ("id",)
    lookup_value_regex = r"\d+"
    not_found = gettext_lazy("No existe ese registro.")

    def select_object(self, pk: int):
        """The row `pk` as the app's selector gives it to this user: DoesNotExist when they may
        not see it (then 404, never the record)."""
        raise NotImplementedError

    def get_object(self):
        try:
            row = self.select_object(int(self.kwargs[self.lookup_field]))
        except (ObjectDoesNotExist, ValueError) as exc:
            raise exceptions.NotFound(self.not_found) from exc
        self.check_object_permissions(self.request, row)
        return row

    def paginate_queryset(self, queryset):
        wanted = self.request.query_params.get("ordering") or "-id"
        if wanted.lstrip("-") not in self.orderings:
            raise exceptions.ValidationError(
                {
                    "ordering": [
                        _("Orden desconocido. Puedes usar: %(names)s.")
                        % {"names": ", ".join(self.orderings)}
                    ]
                }
            )
        tie = "-id" if wanted.startswith("-") else "id"
        self.paginator.ordering = (wanted,) if wanted.lstrip("-") == "id" else (wanted, tie)
        return super().paginate_queryset(queryset)

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        return login_not_required(super().as_view(actions, **initkwargs))
