"""How the OpenAPI schema (drf-spectacular) describes this API's own pieces."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "crm.core.api.auth.TokenAuthentication"
    name = "claveApi"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Una clave personal creada en Seguridad de la cuenta → Claves de API "
            "(crm_…).",
        }
