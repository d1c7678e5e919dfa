"""The ground floor: what every app stands on.

Users and teams, roles and the permission helpers, the audit trail, formats, text folding, the
shared form helpers and widgets, the panel registry of the customer sheet, the template tags.
Every app may import from here; nothing here imports an app or `crm.top` (the layers test in
`crm/tests/test_architecture.py` holds it). Its Django label stays `crm`, so the user model is
still `crm.User` and the migration history is unchanged.
"""
