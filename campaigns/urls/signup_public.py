"""The public sign-up form (no login), at the site's root because its address is printed on
websites and in emails: /f/<slug>/ (the form), /f/<slug>/gracias/ (after sending),
/f/confirmar/<token>/ (the double opt-in link). Mounted by crm.top.urls, so their names are
`crm:signup-public`, `crm:signup-thanks` and `crm:signup-confirm`."""

from django.urls import path

from campaigns.views import signup as views

urlpatterns = [
    path("f/confirmar/<str:token>/", views.signup_confirm, name="signup-confirm"),
    path("f/<slug:slug>/", views.signup_public, name="signup-public"),
    path("f/<slug:slug>/gracias/", views.signup_thanks, name="signup-thanks"),
]
