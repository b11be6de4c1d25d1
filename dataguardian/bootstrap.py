"""First-start chores shared by ``manage.py run``: the initial admin account."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

ADMIN_PASSWORD_FILE_NAME = "admin_password"  # noqa: S105 (a file name)


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


def admin_password_file() -> Path:
    return Path(settings.DATA_DIR) / ADMIN_PASSWORD_FILE_NAME


def _write_private(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` readable by the owner only, also when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file may have had a looser mode
        os.write(fd, content.encode())
    finally:
        os.close(fd)


def ensure_admin_user(stdout: Writer | None = None) -> bool:
    """Create the superuser ``settings.ADMIN_USERNAME`` unless a user of that name exists.

    The password is ``settings.ADMIN_PASSWORD``; when that is unset a random one is generated
    and written to ``DATA_DIR/admin_password`` (mode 0600). Only the file's path is printed,
    never the password. Returns whether the user was created.
    """
    out: Writer = stdout if stdout is not None else sys.stdout
    username: str = settings.ADMIN_USERNAME
    email: str = settings.ADMIN_EMAIL or ""
    user_model = get_user_model()
    manager = user_model._default_manager
    if manager.filter(**{user_model.USERNAME_FIELD: username}).exists():
        return False

    password: str | None = settings.ADMIN_PASSWORD
    generated = not password
    if not password:
        password = secrets.token_urlsafe(18)
    try:
        with transaction.atomic():
            user = user_model(**{user_model.USERNAME_FIELD: username, "email": email})
            user.is_staff = True
            user.is_superuser = True
            user.set_password(password)
            user.save()
            if generated:
                # Inside the transaction: if the file cannot be written, no user is left behind
                # with a password nobody knows.
                _write_private(admin_password_file(), password + "\n")
    except IntegrityError:  # another process created it between our check and the insert
        return False
    if generated:
        path = admin_password_file()
        out.write(f"Created admin user {username!r}; its generated password is in {path}\n")
    else:
        out.write(f"Created admin user {username!r} with DATAGUARDIAN_ADMIN_PASSWORD\n")
    return True
