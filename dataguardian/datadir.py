"""The data directory, made ready when Django starts (``DataGuardianConfig.ready``).

Importing the settings writes nothing. At start-up this creates ``DATA_DIR``, the static
files folder and, in the embedded mode, the file broker's folders; and it generates the
private key files the settings could not read yet (``secret_key`` and ``encryption.key``,
mode 0600, each created once and then kept), unless the environment provides the keys.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _create_private_file(path: Path, make: Callable[[], str]) -> str:
    """Create ``path`` with mode 0600 holding ``make()``; if another process created it
    first, read theirs, so that every process of an installation shares one key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(make())
    return path.read_text().strip()


def prepare() -> None:
    data_dir = Path(settings.DATA_DIR)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        if str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
            options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
            for key in ("data_folder_in", "processed_folder", "control_folder"):
                Path(options[key]).mkdir(parents=True, exist_ok=True)
        if not settings.SECRET_KEY_FROM_ENV and not os.path.exists(settings.SECRET_KEY_FILE):
            settings.SECRET_KEY = _create_private_file(
                Path(settings.SECRET_KEY_FILE), lambda: secrets.token_urlsafe(50)
            )
        if not settings.ENCRYPTION_KEYS_FROM_ENV and not settings.ENCRYPTION_KEYS:
            settings.ENCRYPTION_KEYS = [
                _create_private_file(
                    Path(settings.ENCRYPTION_KEY_FILE), lambda: Fernet.generate_key().decode()
                )
            ]
    except OSError as exc:
        raise ImproperlyConfigured(
            f"DATAGUARDIAN_DATA_DIR {data_dir} cannot be prepared: {exc}"
        ) from exc
