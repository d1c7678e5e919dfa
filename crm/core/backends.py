from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from crm.core import kept


class UserBackend(ModelBackend):
    """ModelBackend that loads the user with their team (the navigation shows the team on every
    page, which would otherwise cost one query per request), and keeps them in the cache
    (crm.core.kept): a page then finds who is signed in with one GET of Redis instead of a
    query. Any save of the user (a sign-in's last login alone excepted), or of their team, makes
    the next request read them again; so does a password changed, which ends their sessions."""

    def get_user(self, user_id):
        UserModel = get_user_model()
        key = kept.user_key(user_id)
        user = kept.read(key, UserModel)
        if user is None:
            # get(), as ModelBackend does, not first(): first() would order by the model's
            # ordering (names), compiled and sorted on every request for a single row.
            try:
                user = UserModel._default_manager.select_related("team").get(pk=user_id)
            except UserModel.DoesNotExist:
                return None
            kept.keep(key, user)
        return user if self.user_can_authenticate(user) else None
