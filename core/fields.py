"""Model fields shared by the apps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.utils.module_loading import import_string

from core import crypto

ENCRYPTED_MARKER = "$encrypted"
MASK = "********"


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {ENCRYPTED_MARKER}


class EncryptedConfigField(models.JSONField):
    """A JSON object whose secret keys are stored encrypted.

    ``encrypted_keys_from`` is the dotted path of a function returning the keys to encrypt
    (the union of what the registry's types declare secret). In the database a secret value is
    stored as ``{"$encrypted": "<fernet token>"}``; reading through the ORM gives the plain
    value back.
    Any value that carries the marker is decrypted on read, whatever its key, so renaming or
    retiring a type never strands a secret.
    """

    def __init__(self, *args: Any, encrypted_keys_from: str, **kwargs: Any) -> None:
        self.encrypted_keys_path = encrypted_keys_from
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["encrypted_keys_from"] = self.encrypted_keys_path
        return name, path, args, kwargs

    def _secret_keys(self) -> frozenset[str]:
        func: Callable[[], frozenset[str]] = import_string(self.encrypted_keys_path)
        return func()

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            secrets = self._secret_keys()
            value = {
                key: (
                    {ENCRYPTED_MARKER: crypto.encrypt(item)}
                    if key in secrets and isinstance(item, str) and item != ""
                    else item
                )
                for key, item in value.items()
            }
        return super().get_prep_value(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        if isinstance(value, dict):
            value = {
                key: crypto.decrypt(item[ENCRYPTED_MARKER]) if is_encrypted(item) else item
                for key, item in value.items()
            }
        return value


def mask_secrets(config: dict[str, Any], secret_fields: frozenset[str]) -> dict[str, Any]:
    """A copy of ``config`` fit to show: every non-empty secret replaced by a mask."""
    return {
        key: (MASK if key in secret_fields and value not in (None, "") else value)
        for key, value in config.items()
    }
