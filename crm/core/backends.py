from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UserBackend(ModelBackend):
    """ModelBackend that loads the user with their team: the navigation shows the team on
    every page, which would otherwise cost one query per request."""

    def get_user(self, user_id):
        # get(), as ModelBackend does, not first(): first() would order by the model's
        # ordering (names), compiled and sorted on every request for a single row.
        UserModel = get_user_model()
        try:
            user = UserModel._default_manager.select_related("team").get(pk=user_id)
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
