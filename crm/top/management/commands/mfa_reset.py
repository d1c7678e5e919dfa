"""`manage.py mfa_reset USERNAME`: remove a user's two-factor sign-in (a lost phone and lost
recovery codes). They then sign in with their password alone; an administrator is sent to set it
up again at once. Another administrator can do the same in the admin (the user's TOTP and static
devices); this is for when no administrator can sign in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.core.mfa import mfa_reset


class Command(BaseCommand):
    help = "Quita la verificación en dos pasos de un usuario (teléfono y códigos perdidos)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No existe el usuario «{username}».")
        mfa_reset(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Verificación en dos pasos quitada a «{username}»: entrará con su contraseña"
                " y, si su rol la exige, la configurará de nuevo."
            )
        )
