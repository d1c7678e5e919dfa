"""Who changed what and when (django-simple-history), in the words the sheet shows."""

from django.utils.translation import gettext as _
from simple_history.models import DeletedObject


def history_entries(records: list, *, limit: int) -> list[dict]:
    """Pairs each historical record with the field changes since the one before it.

    `records` are the newest first and one more than `limit`, so the oldest shown has its
    predecessor to diff against; no query runs here.
    """
    entries = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None and record.history_type == "~":
            # Relations resolve to objects only for the fields that changed (rare, and few).
            delta = record.diff_against(previous, foreign_keys_are_objs=True)
            for change in delta.changes:
                field = record.instance_type._meta.get_field(change.field)
                changes.append(
                    {
                        "field": field.verbose_name,
                        "old": _display(record.instance_type, field, change.old),
                        "new": _display(record.instance_type, field, change.new),
                    }
                )
        entries.append({"record": record, "changes": changes})
    return entries


def _display(model, field, value) -> str:
    if isinstance(value, DeletedObject):
        # simple-history's stand-in for a relation it cannot load: none at all ("Deleted
        # cuenta (pk=None)" otherwise), or a record removed since.
        if value.pk is None:
            return "—"
        return _("%(model)s n.º %(pk)s (ya no existe)") % {
            "model": str(value.model._meta.verbose_name).capitalize(),
            "pk": value.pk,
        }
    if value in (None, ""):
        return "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)
