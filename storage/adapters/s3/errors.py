"""What a botocore failure means for DataGuardian: the ``StorageError`` that says what to fix."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
)

from storage.adapters.base import (
    StorageAuthFailed,
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUnreachable,
    TransientStorageError,
)

_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
        "AuthorizationHeaderMalformed",
    }
)
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem"})
_MISSING_CODES = frozenset({"NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NotFound", "404"})
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed"}
)
_FULL_CODES = frozenset({"XMinioStorageFull"})


def error_code(exc: ClientError) -> tuple[str, int, str]:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return str(error.get("Code", status)), status, str(error.get("Message", "") or "")


def translate_error(exc: Exception, doing: str) -> StorageError:
    """Map a botocore exception to the ``StorageError`` subclass that says what to fix.

    ``doing`` names the operation and the bucket/key. The message adds the service's error
    code and text, which never contain the secret key; the client's settings are never
    formatted into it.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return StorageUnreachable(f"Could not {doing}: the endpoint cannot be reached ({exc}).")
    if isinstance(exc, HTTPClientError):
        return TransientStorageError(
            f"Could not {doing}: the connection to the endpoint was lost ({exc})."
        )
    if isinstance(exc, ClientError):
        code, status, text = error_code(exc)
        reason = f"{code}: {text}" if text else code
        message = f"Could not {doing}: {reason} (HTTP {status})."
        if code in _AUTH_CODES:
            return StorageAuthFailed(message)
        if code in _DENIED_CODES:
            return StoragePermissionDenied(message)
        if code in _MISSING_CODES or status == 404:
            return StoragePathMissing(message)
        if code in _FULL_CODES:
            return StorageFull(message)
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientStorageError(message)
        if status == 403:
            return StoragePermissionDenied(message)
        return StorageError(message)
    if isinstance(exc, BotoCoreError):
        return StorageError(f"Could not {doing}: {exc}")
    return StorageError(f"Could not {doing}: {type(exc).__name__}.")


def is_transient(exc: Exception) -> bool:
    if isinstance(exc, HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code, status, _ = error_code(exc)
        return code in _TRANSIENT_CODES or status >= 500
    return False


def precondition_failed(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and (
        error_code(exc)[0] == "PreconditionFailed" or error_code(exc)[1] == 412
    )
