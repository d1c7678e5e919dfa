from django import forms

from crm.core.text import parse_id


class RecordPicker(forms.Widget):
    """Choose one record among many thousands: type to search, tap a result.

    Renders a hidden input that holds the id and a visible search box that asks `search_url`
    (an htmx endpoint answering a list of `[data-pick-id]` buttons) for suggestions. Without
    JavaScript the box is read-only and shows the current choice.
    """

    template_name = "widgets/record_picker.html"

    def __init__(self, *, search_url: str, label_for, attrs=None):
        super().__init__(attrs)
        self.search_url = search_url
        self.label_for = label_for

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["search_url"] = self.search_url
        # A value sent back that is no id (a tampered form) names no record: no label to look
        # up, and the form shows the field's error.
        context["widget"]["display"] = self.label_for(value) if parse_id(value) else ""
        return context
