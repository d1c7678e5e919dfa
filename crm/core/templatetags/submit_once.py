"""`{% submit_once %}`: the one-time token of a POST form (crm.core.submit_once).

A builtin (settings.TEMPLATES), like `{% csrf_token %}` beside which it is written in every
form that changes something.
"""

from django import template
from django.utils.html import format_html

from crm.core.submit_once import FIELD, new_token

register = template.Library()


@register.simple_tag
def submit_once() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, new_token())
