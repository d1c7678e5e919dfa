from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    # The user model's length: a longer name is the form's error, not a failed login that
    # django-axes would store in its 255 characters (PostgreSQL refuses a longer one).
    username = forms.CharField(
        label=_("Usuario"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Contraseña"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Buscar"), max_length=100, required=False)


class MFACodeForm(forms.Form):
    """The second step of signing in: the authenticator's code, or a recovery code."""

    code = forms.CharField(
        label=_("Código"),
        max_length=32,
        help_text=_(
            "Los 6 dígitos de tu aplicación de autenticación, o uno de tus códigos de recuperación."
        ),
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "one-time-code", "spellcheck": "false"}
        ),
    )


class MFAEnableForm(forms.Form):
    code = forms.CharField(
        label=_("Código de 6 dígitos"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class PasswordConfirmForm(forms.Form):
    """Asks the signed-in user's password again before a change to how they sign in."""

    password = forms.CharField(
        label=_("Contraseña"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("La contraseña no es correcta."))
        return password


class MFADisableForm(PasswordConfirmForm):
    code = forms.CharField(
        label=_("Código"),
        max_length=32,
        help_text=_("Un código actual de tu aplicación, o uno de tus códigos de recuperación."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )
