"""An uploaded file waiting for its mapping and preview, before it becomes an import.

The import pages go upload → mapping and preview → run. Between the first and the last step the
file is kept in the media storage under `imports/borradores/<user id>/<token>/<file name>`: the
token is random and the user's id is part of the path, so a draft is only ever found by who
uploaded it. Starting the import copies the file into its ImportRun and drops the draft; the
drafts nobody finished are removed after a day (`import_drafts_clear`, a nightly beat job).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from crm.core.models import User

ROOT = "imports/borradores"
KEEP = dt.timedelta(days=1)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass
class Draft:
    token: str
    name: str
    path: str

    def read(self) -> bytes:
        with default_storage.open(self.path, "rb") as handle:
            return handle.read()


def _folder(user: User, token: str) -> str:
    return f"{ROOT}/{user.pk}/{token}"


def draft_save(*, user: User, file_name: str, data: bytes) -> Draft:
    token = secrets.token_urlsafe(18)
    # The name as the user knows it, without any folder a browser may send.
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()[-150:] or "importacion"
    path = default_storage.save(f"{_folder(user, token)}/{name}", ContentFile(data))
    return Draft(token=token, name=name, path=path)


def draft_get(*, user: User, token: str) -> Draft | None:
    """The user's draft with this token, or None (unknown, another user's, or cleared)."""
    if not _TOKEN.match(token or ""):
        return None
    folder = _folder(user, token)
    try:
        _dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not files:
        return None
    name = sorted(files)[0]
    return Draft(token=token, name=name, path=f"{folder}/{name}")


def draft_delete(draft: Draft) -> None:
    default_storage.delete(draft.path)


def import_drafts_clear(*, now: dt.datetime | None = None) -> int:
    """Remove the drafts older than a day (uploads whose import was never started)."""
    limit = (now or timezone.now()) - KEEP
    removed = 0
    try:
        users, _files = default_storage.listdir(ROOT)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for user in users:
        tokens, _files = default_storage.listdir(f"{ROOT}/{user}")
        for token in tokens:
            folder = f"{ROOT}/{user}/{token}"
            for name in default_storage.listdir(folder)[1]:
                path = f"{folder}/{name}"
                if default_storage.get_modified_time(path) < limit:
                    default_storage.delete(path)
                    removed += 1
    return removed
