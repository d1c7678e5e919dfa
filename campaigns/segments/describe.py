"""A segment definition in words, for its detail page (and the ids whose names it needs)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from campaigns.segments.fields import CONSENT_STATES, FIELDS, OP_LABELS
from campaigns.segments.validation import is_int
from contacts.models import Consent


def describe_condition(condition: dict, *, names: dict | None = None) -> str:
    """One condition as a sentence fragment: "Sector de la cuenta es alguno de: Manufactura".

    `names` maps ("owner"|"team"|"topic", id) to a display name (the caller reads them).
    """
    names = names or {}
    spec = FIELDS[condition["field"]]
    op, value = condition["op"], condition.get("value")
    kind = spec.ops[op]
    label, op_label = str(spec.label), str(OP_LABELS[op])
    if kind in ("choices", "int_choices"):
        labels = dict(spec.choices()) if spec.choices else {}
        key = condition["field"]
        shown = [str(labels.get(v) or names.get((key, v)) or v) for v in value]
        return _("%(field)s %(op)s: %(values)s") % {
            "field": label,
            "op": op_label,
            "values": ", ".join(shown),
        }
    if kind == "tags":
        return _("%(field)s: %(op)s %(values)s") % {
            "field": label,
            "op": op_label,
            "values": ", ".join(value),
        }
    if kind == "text":
        return _("%(field)s %(op)s «%(value)s»") % {"field": label, "op": op_label, "value": value}
    if kind == "int":
        return _("%(field)s %(op)s %(value)s") % {"field": label, "op": op_label, "value": value}
    if kind == "int_range":
        return _("%(field)s entre %(low)s y %(high)s") % {
            "field": label,
            "low": value[0],
            "high": value[1],
        }
    if kind == "date_range":
        low, high = value
        if low and high:
            return _("%(field)s entre el %(low)s y el %(high)s") % {
                "field": label,
                "low": low,
                "high": high,
            }
        if low:
            return _("%(field)s desde el %(low)s") % {"field": label, "low": low}
        return _("%(field)s hasta el %(high)s") % {"field": label, "high": high}
    if kind == "days":
        if op == "not_in_last_days":
            return _("%(field)s: no en los últimos %(n)s días (o nunca)") % {
                "field": label,
                "n": value,
            }
        return _("%(field)s en los últimos %(n)s días") % {"field": label, "n": value}
    if kind == "months":
        return _("%(field)s en los últimos %(n)s meses") % {"field": label, "n": value}
    if kind == "consent":
        channel = dict(Consent.Channel.choices).get(value["channel"], value["channel"])
        topic = (
            _("todo el canal")
            if value.get("topic") is None
            else names.get(("topic", value["topic"]), value["topic"])
        )
        return _("Consentimiento de %(channel)s (%(topic)s): %(state)s") % {
            "channel": channel,
            "topic": topic,
            "state": CONSENT_STATES[value["state"]],
        }
    return _("%(field)s: %(op)s") % {"field": label, "op": op_label}


def referenced_ids(definition: dict) -> dict[str, set[int]]:
    """The owner, team and topic ids a definition names (to show their names)."""
    found: dict[str, set[int]] = {"owner": set(), "team": set(), "topic": set()}
    for group in (definition or {}).get("groups", []):
        for condition in group.get("conditions", []):
            name, value = condition.get("field"), condition.get("value")
            if name in ("owner", "team") and isinstance(value, list):
                found[name].update(v for v in value if is_int(v))
            elif name == "consent" and isinstance(value, dict) and is_int(value.get("topic")):
                found["topic"].add(value["topic"])
    return found
