"""The top floor: the pages that compose the apps.

The home dashboards, the global search, the caller lookup ("¿Quién llama?"), the site URLs that
are not an app's own (home, search, sign-in) and the demo data command that orders each app's
seed. It may import every app; no app and nothing in `crm.core` imports it.
"""
