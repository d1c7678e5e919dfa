from django.contrib.auth import views as auth_views
from django.urls import path

from campaigns.urls import signup_public
from crm.core import exports, urls_webhooks, views_mfa, views_tokens
from crm.core import views as auth
from crm.top import urls_merge, urls_privacy, views, views_caller

# The namespace it had before the split: every `crm:home`, `crm:login` in the templates keeps it.
app_name = "crm"

urlpatterns = [
    path("", views.home, name="home"),
    path("buscar/", views.search, name="search"),
    path("quien-llama/", views_caller.caller, name="caller"),
    path("quien-llama/llamada/", views_caller.caller_log_call, name="caller-log-call"),
    path("entrar/", auth.LoginView.as_view(), name="login"),
    path("entrar/codigo/", views_mfa.LoginCodeView.as_view(), name="login-code"),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("contrasena/", auth.PasswordChangeView.as_view(), name="password-change"),
    path("seguridad/", views_mfa.security, name="security"),
    path("exportaciones/<str:token>/", exports.export_download, name="export-download"),
    path("seguridad/dos-pasos/activar/", views_mfa.mfa_enable, name="mfa-enable"),
    path("seguridad/dos-pasos/codigos/", views_mfa.mfa_codes, name="mfa-codes"),
    path(
        "seguridad/dos-pasos/codigos.txt",
        views_mfa.mfa_codes_download,
        name="mfa-codes-download",
    ),
    path(
        "seguridad/dos-pasos/codigos/nuevos/",
        views_mfa.mfa_codes_regenerate,
        name="mfa-codes-regenerate",
    ),
    path("seguridad/dos-pasos/desactivar/", views_mfa.mfa_disable, name="mfa-disable"),
    path("seguridad/api/", views_tokens.api_tokens, name="api-tokens"),
    path("seguridad/api/<int:pk>/revocar/", views_tokens.api_token_revoke, name="api-token-revoke"),
]

# Merging duplicates and a person's data rights (issue 10): pages of their own modules.
urlpatterns += urls_merge.urlpatterns + urls_privacy.urlpatterns
urlpatterns += urls_webhooks.urlpatterns
# The public sign-up forms (/f/<slug>/): their address goes on websites, so it is short.
urlpatterns += signup_public.urlpatterns
