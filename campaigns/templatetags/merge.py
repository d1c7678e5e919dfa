"""The only filters of the merge-field engine (campaigns.content.merge_engine): text, no tags."""

from django import template
from django.template import defaultfilters

register = template.Library()

for _name in ("default", "upper", "lower", "title", "capfirst"):
    register.filter(_name, getattr(defaultfilters, _name), is_safe=True)
