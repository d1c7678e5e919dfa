"""The consent form of a contact's sheet, drawn by contacts/_consent_fields.html with fast
widgets: the markup crispy-forms gave it, in Spanish and in English."""

import pytest
from django import forms
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test.html import parse_html
from django.utils.translation import override

from contacts.forms import ConsentForm


class _AsItWas(ConsentForm):
    """The form with Django's own widgets, as crispy drew it before: the reference."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ChoiceField):
                field.widget = forms.Select(choices=field.choices)
            else:
                field.widget = forms.TextInput(attrs=field.widget_attrs(forms.TextInput()))


@pytest.mark.parametrize("language", ["es", "en"])
def test_the_consent_fields_are_what_crispy_drew(language):
    with override(language):
        ours = render_to_string("contacts/_consent_fields.html", {"form": ConsentForm()})
        crispy = Template("{% load crispy_forms_tags %}{{ form|crispy }}").render(
            Context({"form": _AsItWas()})
        )
    assert parse_html(ours) == parse_html(crispy)
    assert ours.count("<select") == 4 and ours.count('<input type="text"') == 2


def test_errors_are_shown_under_their_field():
    form = ConsentForm({"channel": "paloma", "action": "grant"})
    assert not form.is_valid()
    html = render_to_string("contacts/_consent_fields.html", {"form": form})
    assert html.count('class="invalid-feedback d-block"') == 3  # channel, source, legal basis
