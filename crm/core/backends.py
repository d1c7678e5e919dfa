from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UserBackend(ModelBackend):
    """ModelBackend that loads the user with their team: the navigation shows the team on
    every page, which would otherwise cost one query per request."""

    def get_user(self, user_id):
        user = get_user_model().objects.select_related("team").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
