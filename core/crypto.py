"""Authenticated encryption of connection secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256,
random IV per value). The keys come from ``settings.ENCRYPTION_KEYS``; the first encrypts and
all of them decrypt, which is what makes key rotation possible."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted: DATAGUARDIAN_ENCRYPTION_KEYS does not hold "
            "the key it was encrypted with."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the primary key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted with any configured key."
        ) from exc


@receiver(setting_changed)
def _reset(setting: str, **kwargs: object) -> None:
    if setting == "ENCRYPTION_KEYS":
        _fernet.cache_clear()
