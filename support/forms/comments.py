"""The composer of a ticket's conversation: a reply, an internal note or the customer's message,
with files. (The canned response select is read by the view, which expands it into the text.)"""

from django import forms
from django.utils.translation import gettext_lazy as _

from support.models import Comment, Ticket
from support.services.comments import BODY_MAX_CHARS, attachment_allowed_extensions


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); the service checks each one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)]


KIND_HELP = {
    Comment.Kind.REPLY: _("Se envía por correo al contacto."),
    Comment.Kind.NOTE: _("Solo la ve el equipo; nunca se envía al cliente."),
    Comment.Kind.CUSTOMER: _("Lo que el cliente dijo por teléfono, correo o WhatsApp."),
}


class CommentForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Tipo de mensaje"),
        choices=Comment.Kind.choices,
        initial=Comment.Kind.REPLY,
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label=_("Mensaje"),
        max_length=BODY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 5, "class": "form-control"}),
        error_messages={"required": _("Escribe el mensaje.")},
    )
    files = MultipleFileField(label=_("Adjuntos"), required=False)

    def __init__(self, *args, ticket: Ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        extensions = attachment_allowed_extensions()
        self.fields["files"].widget.attrs.update(
            {"class": "form-control", "accept": ",".join(f".{ext}" for ext in extensions)}
        )
        self.fields["body"].widget.attrs["id"] = f"composer-body-{ticket.pk}"

    @property
    def kind_options(self) -> list[tuple[str, str, str]]:
        """(value, label, help) of each kind, for the composer's tabs."""
        return [(value, label, KIND_HELP[value]) for value, label in Comment.Kind.choices]
