from django.contrib.auth import views as auth_views
from django.urls import path

from crm import views, views_caller

app_name = "crm"

urlpatterns = [
    path("", views.home, name="home"),
    path("buscar/", views.search, name="search"),
    path("quien-llama/", views_caller.caller, name="caller"),
    path("quien-llama/llamada/", views_caller.caller_log_call, name="caller-log-call"),
    path("entrar/", views.LoginView.as_view(), name="login"),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("contrasena/", views.PasswordChangeView.as_view(), name="password-change"),
]
