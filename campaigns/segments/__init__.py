"""Segments: a definition (data, validated against an allow-list) compiled to a Contact filter.

A definition is
    {"match": "all" | "any", "groups": [
        {"match": "all" | "any", "conditions": [{"field": ..., "op": ..., "value": ...}, ...]},
    ...]}
Groups combine with the top-level `match`, conditions inside a group with the group's; no
deeper nesting. No groups: every live contact. Field and operator names come from the allow-list
in this package only; user input is never used as an ORM lookup or SQL.

The values each (field, op) takes (`FIELDS` is the allow-list; `validate_definition` checks them):
- in / not_in: a non-empty list of the field's choices (codes such as "mql", "A", "MX"; ids for
  owner and team; 1-12 for birthday_month). `not_in` also matches contacts with no value (a
  contact without an account is "not in" any tier).
- eq / contains (region, city): a non-empty text, compared accent- and case-insensitively.
- between: [low, high]; numbers for lead_score (both required), ISO dates "YYYY-MM-DD" for created
  and last_contacted (either end may be null, not both). Both ends included.
- gte / lte (lead_score): a number 0-100.
- last_days / in_last_days / not_in_last_days: whole days (1-3650); `not_in_last_days` includes
  those that never did it (never contacted, never opened…).
- in_last_months (won_opportunity): whole months (1-120).
- never, exists, not_exists: no value (ignored).
- tags any / all / none: a non-empty list of tag names (case-insensitive, as taggit is set up).
- consent is: {"channel": "email"|"sms"|"whatsapp"|"telefono", "topic": topic id or null (the
  whole channel), "state": "granted"|"withdrawn"|"none"}: the latest ledger entry
  (contacts.ConsentLatest) for that channel and topic.

The package: `fields` (the allow-list), `validation` (a definition checked against it),
`compiler` (a valid definition to a Contact filter) and `describe` (a definition in words). The
names below are its public API.
"""

from campaigns.segments.compiler import (
    InvalidDefinition,
    compile_definition,
    definition_queryset,
    segment_queryset,
)
from campaigns.segments.describe import describe_condition
from campaigns.segments.fields import FIELDS
from campaigns.segments.validation import validate_definition

__all__ = [
    "FIELDS",
    "InvalidDefinition",
    "compile_definition",
    "definition_queryset",
    "describe_condition",
    "segment_queryset",
    "validate_definition",
]
