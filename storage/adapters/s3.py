"""Amazon S3 and S3-compatible services (Wasabi and others).

``S3CompatibleAdapter`` holds everything the S3 API has in common; each S3-speaking type only
maps its own configuration to a bucket, a prefix and client settings (``S3Settings``).
"""

from __future__ import annotations

import io
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urlsplit

import boto3.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
)
from rest_framework import serializers

from dataguardian.registry import ConfigSchema
from storage.adapters.base import (
    StorageAdapter,
    StorageAuthFailed,
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUnreachable,
    StorageUsage,
    StorageWriter,
    StoredObject,
    TransientStorageError,
    relative_parts,
)

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# S3 refuses parts under 5 MiB (except the last); 8 MiB keeps the request count of small
# artifacts low without holding much in memory.
MIN_PART_SIZE = 8 * MIB
DEFAULT_PART_SIZE = 16 * MIB
# Parts held in memory at once by an upload: one filling while the previous one is sent.
UPLOAD_BUFFERS = 2
MAX_PART_SIZE = 5 * 1024 * MIB
# The checksum sent with every part and object when checksums are on; botocore computes it
# without optional dependencies, and every service that takes flexible checksums accepts it.
CHECKSUM_ALGORITHM = "CRC32"
# The service's hard limit on parts per upload.
MAX_PARTS = 10_000
# The hint is an estimate; sizing parts for 1.5 times it, over 9,000 parts, leaves room for an
# artifact that turns out bigger than expected before the 10,000-part limit is reached.
HINT_MARGIN = 1.5
HINT_PARTS = 9_000
# botocore retries every call itself; a part also gets our own attempts on top, because losing
# one part late in a long upload would otherwise throw away everything sent before it.
BOTOCORE_MAX_ATTEMPTS = 5
PART_RETRY_DELAYS: tuple[float, ...] = (1.0, 4.0)
DELETE_BATCH = 1000
PROBE_NAME = ".dataguardian-test"

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


@dataclass(frozen=True)
class S3Settings:
    """What an S3-compatible type's configuration boils down to."""

    bucket: str
    prefix: str
    region: str | None
    access_key_id: str
    # repr=False: an exception or a log line that formats the settings must not show the key.
    secret_access_key: str = field(repr=False)
    endpoint_url: str | None = None
    storage_class: str | None = None
    # The ``checksums`` option as configured: "auto", "on" or "off" (see ``checksums_on``).
    checksums: str = "auto"

    @property
    def checksums_on(self) -> bool:
        """Whether uploads carry a CRC32 per part (and per object) for the service to verify.

        ``auto`` turns them on for Amazon S3 itself, which verifies them, and off for any other
        endpoint: several S3-compatible services reject the checksum headers.
        """
        if self.checksums != "auto":
            return self.checksums == "on"
        if not self.endpoint_url:
            return True
        host = urlsplit(self.endpoint_url).hostname or ""
        return host == "amazonaws.com" or host.endswith(".amazonaws.com")


def part_size_for(size_hint: int | None) -> int:
    """The part size for an upload expected to be ``size_hint`` bytes (``None``: unknown).

    ``max(8 MiB, ceil(hint * 1.5 / 9000))`` rounded up to a whole MiB and capped at the
    service's 5 GiB maximum; without a hint, 16 MiB, which allows artifacts up to ~156 GiB.
    Memory use is one part, so the part is never bigger than the hint requires.
    """
    if size_hint is None or size_hint < 0:
        return DEFAULT_PART_SIZE
    needed = math.ceil(size_hint * HINT_MARGIN / HINT_PARTS)
    rounded = math.ceil(needed / MIB) * MIB
    return min(MAX_PART_SIZE, max(MIN_PART_SIZE, rounded))


def relative_key(path: str, *, allow_root: bool = False) -> str:
    """Validate a location-relative path and return it normalised to ``a/b/c`` form.

    The same rules as the local adapter: object keys have no directories to escape, but a
    ``..`` or an absolute path from a job or restore request is still a mistake worth refusing
    rather than a key to store literally.
    """
    return "/".join(relative_parts(path, allow_root=allow_root))


def _error_code(exc: ClientError) -> tuple[str, int, str]:
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
        code, status, text = _error_code(exc)
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


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code, status, _ = _error_code(exc)
        return code in _TRANSIENT_CODES or status >= 500
    return False


def _precondition_failed(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and (
        _error_code(exc)[0] == "PreconditionFailed" or _error_code(exc)[1] == 412
    )


class _ObjectBody(io.RawIOBase):
    """A downloaded object as a raw stream: ``read(n)`` reads at most ``n`` bytes off the wire,
    so a restore of a large chunk never holds more than what the caller asks for."""

    def __init__(self, body: Any, doing: str) -> None:
        super().__init__()
        self._body = body
        self._doing = doing

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except Exception as exc:
            raise translate_error(exc, self._doing) from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _S3Writer:
    """The ``StorageWriter`` of ``open_write``: fills a part buffer and uploads it when full.

    Nothing is sent until a whole part is buffered: an artifact smaller than one part becomes a
    single ``put_object``; anything bigger becomes a multipart upload, which stays invisible
    until ``finish`` completes it. Parts after the first are uploaded by a background thread
    while the next one fills, with at most ``UPLOAD_BUFFERS`` parts in memory: a part request spends
    much of its time waiting on the service, so a fast producer keeps two requests in flight,
    and a slow one (compression) is not stalled by the network.
    """

    def __init__(self, adapter: S3CompatibleAdapter, key: str, path: str, part_size: int) -> None:
        self._adapter = adapter
        self._key = key
        self._path = path
        self._part_size = part_size
        # The first buffer grows as data comes, so a small artifact costs only its own size;
        # once the upload is multipart, buffers of exactly one part are reused.
        self._buffer: bytearray | None = bytearray()
        self._filled = 0
        self._spare: list[bytearray] = []
        self._buffers = 1
        self._upload_id: str | None = None
        self._next_number = 1
        self._in_flight: deque[tuple[Future[dict[str, Any]], bytearray]] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._parts: list[dict[str, Any]] = []
        self.bytes_written = 0

    def write(self, data: bytes, /) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            buffer = self._buffer if self._buffer is not None else self._take_buffer()
            self._buffer = buffer
            piece = view[: self._part_size - self._filled]
            end = self._filled + len(piece)
            if len(buffer) == self._filled:
                buffer += piece
            else:
                buffer[self._filled : end] = piece
            self._filled = end
            view = view[len(piece) :]
            if self._filled == self._part_size:
                self._send_part()
        self.bytes_written += total
        return total

    def _take_buffer(self) -> bytearray:
        """A free part buffer: a spare, a new one while under the limit, or the buffer of the
        oldest part in flight once it has been stored (its failure is raised here)."""
        if self._spare:
            return self._spare.pop()
        if self._buffers < UPLOAD_BUFFERS:
            self._buffers += 1
            return bytearray(self._part_size)
        return self._collect_oldest()

    def _collect_oldest(self) -> bytearray:
        future, buffer = self._in_flight.popleft()
        self._parts.append(future.result())
        return buffer

    def _start_upload(self) -> str:
        if self._upload_id is None:
            kwargs = self._adapter.object_arguments(multipart=True)
            doing = f"start the upload of {self._adapter.describe(self._key)}"
            try:
                answer = self._adapter.client.create_multipart_upload(
                    Bucket=self._adapter.settings.bucket, Key=self._key, **kwargs
                )
            except Exception as exc:
                raise translate_error(exc, doing) from exc
            self._upload_id = str(answer["UploadId"])
        return self._upload_id

    def _send_part(self) -> None:
        """Upload the buffered part: the first one directly, the others in the background."""
        number = self._next_number
        if number > MAX_PARTS:
            raise StorageError(
                f"{self._path} exceeded the limit of {MAX_PARTS} parts of "
                f"{self._part_size // MIB} MiB per upload; set the job's max_file_size_mb to "
                "split the artifact into smaller files."
            )
        body = self._buffer
        if body is None:  # nothing buffered since the last part
            return
        upload_id = self._start_upload()
        if self._filled < len(body):  # the last, shorter part: shrink in place, no copy
            del body[self._filled :]
        self._next_number += 1
        self._buffer, self._filled = None, 0
        if number == 1:
            # The first part goes in the caller's thread: the upload is proven to work
            # (reachable, permitted) before a second part's memory is taken, and an early
            # failure names the first part rather than whichever part lost a race.
            self._parts.append(self._upload_part(upload_id, number, body))
            self._spare.append(body)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(UPLOAD_BUFFERS, thread_name_prefix="s3-upload")
        future = self._executor.submit(self._upload_part, upload_id, number, body)
        self._in_flight.append((future, body))

    def _upload_part(self, upload_id: str, number: int, body: bytearray) -> dict[str, Any]:
        """Runs in the upload thread; its exception surfaces in the writer's thread."""
        doing = f"upload part {number} of {self._adapter.describe(self._key)}"
        checksum = self._adapter.checksum_arguments()
        for delay in (*PART_RETRY_DELAYS, None):
            try:
                answer = self._adapter.client.upload_part(
                    Bucket=self._adapter.settings.bucket,
                    Key=self._key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    **checksum,
                )
                break
            except Exception as exc:
                if delay is None or not _is_transient(exc):
                    raise translate_error(exc, doing) from exc
                logger.warning("Retrying %s in %.0f s: %s", doing, delay, type(exc).__name__)
                time.sleep(delay)
        part = {"ETag": answer["ETag"], "PartNumber": number}
        if checksum:
            # The service checked the part against it; completion names it again, so the
            # object's own checksum is built from what was verified.
            part[f"Checksum{CHECKSUM_ALGORITHM}"] = answer[f"Checksum{CHECKSUM_ALGORITHM}"]
        return part

    def _drain(self) -> None:
        """Wait for every part in flight, raising the first failure in part order."""
        while self._in_flight:
            self._spare.append(self._collect_oldest())

    def finish(self) -> None:
        """Publish the object, refusing to replace one that appeared meanwhile."""
        client, bucket = self._adapter.client, self._adapter.settings.bucket
        condition = {"IfNoneMatch": "*"} if self._adapter.conditional_write_supported() else {}
        if self._upload_id is None:
            doing = f"write {self._adapter.describe(self._key)}"
            kwargs = {
                **self._adapter.object_arguments(),
                **self._adapter.checksum_arguments(),
                **condition,
            }
            body = self._buffer if self._buffer is not None else bytearray()
            call: Any = lambda: client.put_object(  # noqa: E731
                Bucket=bucket, Key=self._key, Body=body, **kwargs
            )
        else:
            # The parts before the last are stored first: when one of them is failing, that
            # failure is reported and nothing more is sent.
            self._drain()
            if self._filled:
                self._send_part()
                self._drain()
            doing = f"complete the upload of {self._adapter.describe(self._key)}"
            upload_id = self._upload_id
            call = lambda: client.complete_multipart_upload(  # noqa: E731
                Bucket=bucket,
                Key=self._key,
                UploadId=upload_id,
                MultipartUpload={"Parts": self._parts},
                **condition,
            )
        try:
            call()
        except Exception as exc:
            if _precondition_failed(exc):
                raise StorageError(
                    f"{self._path} already exists; a stored file is never overwritten."
                ) from exc
            raise translate_error(exc, doing) from exc
        self._upload_id = None
        self._release()

    def _release(self) -> None:
        self._buffer, self._spare = None, []
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def abort(self) -> None:
        """Throw away the parts sent so far. A failure here is logged, not raised: the
        original error matters more, and the bucket's lifecycle rule removes what is left."""
        # Parts still in flight finish first (their errors are moot), so none can be stored
        # after the abort and outlive it.
        wait([future for future, _ in self._in_flight])
        self._in_flight.clear()
        self._release()
        if self._upload_id is None:
            return
        try:
            self._adapter.client.abort_multipart_upload(
                Bucket=self._adapter.settings.bucket, Key=self._key, UploadId=self._upload_id
            )
        except Exception as exc:
            logger.warning(
                "Could not abort the upload of %s: %s",
                self._adapter.describe(self._key),
                translate_error(exc, "abort the upload"),
            )
        self._upload_id = None


class S3CompatibleAdapter(StorageAdapter):
    """The S3 API shared by every S3-speaking type; subclasses implement ``s3_settings``."""

    # Whether the service honours ``If-None-Match: *`` on put/complete. Where it does not, the
    # existence check before the upload is the only guard against overwriting.
    conditional_writes: ClassVar[bool] = True

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.settings = self.s3_settings(config)
        self._client: Any = None

    @classmethod
    def s3_settings(cls, config: dict[str, Any]) -> S3Settings:
        raise NotImplementedError

    # -- client and keys --------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 client, created on first use so building an adapter costs nothing."""
        if self._client is None:
            settings = self.settings
            checking = "when_supported" if settings.checksums_on else "when_required"
            config = Config(
                retries={"mode": "standard", "max_attempts": BOTOCORE_MAX_ATTEMPTS},
                connect_timeout=10,
                read_timeout=60,
                signature_version="s3v4",
                # Virtual-host addressing needs DNS for every bucket name; self-hosted
                # endpoints rarely have it.
                s3={"addressing_style": "path"} if settings.endpoint_url else None,
                # With checksums off, botocore adds none of its CRC headers beyond those the
                # API requires (DeleteObjects); with them on, downloads are checked too.
                request_checksum_calculation=checking,
                response_checksum_validation=checking,
            )
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=settings.endpoint_url or None,
                region_name=settings.region or None,
                aws_access_key_id=settings.access_key_id,
                aws_secret_access_key=settings.secret_access_key,
                config=config,
            )
        return self._client

    @property
    def _root(self) -> str:
        return self.settings.prefix.strip("/")

    def _key(self, path: str, *, allow_root: bool = False) -> str:
        relative = relative_key(path, allow_root=allow_root)
        return "/".join(part for part in (self._root, relative) if part)

    def _relative(self, key: str) -> str:
        return key[len(self._root) + 1 :] if self._root else key

    def describe(self, key: str) -> str:
        return f"s3://{self.settings.bucket}/{key}"

    def object_arguments(self, *, multipart: bool = False) -> dict[str, Any]:
        """Arguments for every object created: the storage class, where one is set, and for a
        multipart upload the checksum algorithm its parts will carry."""
        storage_class = self.settings.storage_class
        arguments: dict[str, Any] = {"StorageClass": storage_class} if storage_class else {}
        if multipart:
            arguments.update(self.checksum_arguments())
        return arguments

    def checksum_arguments(self) -> dict[str, Any]:
        """``ChecksumAlgorithm`` for a request that sends object data, when checksums are on."""
        return {"ChecksumAlgorithm": CHECKSUM_ALGORITHM} if self.settings.checksums_on else {}

    def conditional_write_supported(self) -> bool:
        """``If-None-Match`` needs both the service and a botocore recent enough to send it."""
        if not self.conditional_writes:
            return False
        model = self.client.meta.service_model
        return all(
            "IfNoneMatch" in model.operation_model(name).input_shape.members
            for name in ("PutObject", "CompleteMultipartUpload")
        )

    def _iter_objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        doing = f"list {self.describe(prefix)}"
        try:
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
        except Exception as exc:
            raise translate_error(exc, doing) from exc

    def _head(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc)[1] == 404:
                return False
            raise translate_error(exc, f"inspect {self.describe(key)}") from exc
        except Exception as exc:
            raise translate_error(exc, f"inspect {self.describe(key)}") from exc
        return True

    # -- writing ----------------------------------------------------------------------------

    def open_write(
        self, path: str, *, size_hint: int | None = None
    ) -> AbstractContextManager[StorageWriter]:
        return self._open_write(path, size_hint)

    @contextmanager
    def _open_write(self, path: str, size_hint: int | None) -> Iterator[StorageWriter]:
        """Stream an upload of unknown length holding at most two parts in memory.

        Any exception, ``KeyboardInterrupt`` and task time limits included, aborts the
        multipart upload, so a failed run leaves no object and no stored parts behind.
        """
        key = self._key(path)
        # A published backup is immutable. The conditional write on publication closes the
        # race where supported; this check fails early, before any byte is sent.
        if self._head(key):
            raise StorageError(f"{path} already exists; a stored file is never overwritten.")
        writer = _S3Writer(self, key, path, part_size_for(size_hint))
        try:
            yield writer
            writer.finish()
        except BaseException:
            writer.abort()
            raise

    # -- reading and housekeeping -----------------------------------------------------------

    def open_read(self, path: str) -> AbstractContextManager[BinaryIO]:
        return self._open_read(path)

    @contextmanager
    def _open_read(self, path: str) -> Iterator[BinaryIO]:
        key = self._key(path)
        doing = f"read {self.describe(key)}"
        try:
            answer = self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except Exception as exc:
            error = translate_error(exc, doing)
            if isinstance(error, StoragePathMissing):
                raise StoragePathMissing(f"{path} does not exist in this location.") from exc
            raise error from exc
        with io.BufferedReader(_ObjectBody(answer["Body"], doing), buffer_size=MIB) as reader:
            yield reader

    def delete(self, path: str) -> None:
        """Delete the object ``path`` and every object under ``path/``, and abort the
        unfinished uploads there, so a failed or retired run leaves nothing billed."""
        key = self._key(path)
        bucket = self.settings.bucket
        keys = [key] if self._head(key) else []
        keys += [item["Key"] for item in self._iter_objects(f"{key}/")]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": name} for name in keys[start : start + DELETE_BATCH]]
            doing = f"delete {len(batch)} objects under {self.describe(key)}"
            try:
                answer = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception as exc:
                raise translate_error(exc, doing) from exc
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise StorageError(
                    f"Could not delete {self.describe(first.get('Key', key))}: "
                    f"{first.get('Code')}: {first.get('Message')} "
                    f"({len(errors)} objects not deleted)."
                )
        self._abort_uploads(key)

    def _abort_uploads(self, key: str) -> None:
        bucket = self.settings.bucket
        doing = f"list unfinished uploads under {self.describe(key)}"
        try:
            paginator = self.client.get_paginator("list_multipart_uploads")
            uploads = [
                upload
                for page in paginator.paginate(Bucket=bucket, Prefix=key)
                for upload in page.get("Uploads", [])
                if upload["Key"] == key or upload["Key"].startswith(f"{key}/")
            ]
        except Exception as exc:
            raise translate_error(exc, doing) from exc
        for upload in uploads:
            try:
                self.client.abort_multipart_upload(
                    Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            except ClientError as exc:
                if _error_code(exc)[0] != "NoSuchUpload":  # finished meanwhile: fine
                    raise translate_error(exc, f"abort the upload of {upload['Key']}") from exc
            except Exception as exc:
                raise translate_error(exc, f"abort the upload of {upload['Key']}") from exc

    def list_files(self, prefix: str = "") -> list[StoredObject]:
        key = self._key(prefix, allow_root=True)
        if key == self._root:
            search = f"{key}/" if key else ""
            items = list(self._iter_objects(search))
        else:
            items = [
                item
                for item in self._iter_objects(key)
                if item["Key"] == key or item["Key"].startswith(f"{key}/")
            ]
        return sorted(
            (StoredObject(self._relative(item["Key"]), int(item["Size"])) for item in items),
            key=lambda stored: stored.path,
        )

    def exists(self, path: str) -> bool:
        key = self._key(path, allow_root=True)
        if key != self._root and self._head(key):
            return True
        # A "directory" exists when some object lives below it.
        search = f"{key}/" if key else ""
        try:
            answer = self.client.list_objects_v2(
                Bucket=self.settings.bucket, Prefix=search, MaxKeys=1
            )
        except Exception as exc:
            raise translate_error(exc, f"list {self.describe(search)}") from exc
        return bool(answer.get("KeyCount", 0))

    def usage(self) -> StorageUsage:
        search = f"{self._root}/" if self._root else ""
        used = sum(int(item["Size"]) for item in self._iter_objects(search))
        return StorageUsage(used_bytes=used, available_bytes=None)

    def test_connection(self) -> None:
        """Check the bucket answers, then really write and delete a probe object.

        ``HeadBucket`` has no response body, so S3 answers a bare 403 both for a key it does
        not know (or a wrong secret) and for a valid key without access to the bucket. On a
        403 a ``ListObjectsV2`` with ``MaxKeys=1`` follows: its error body carries a readable
        code, ``InvalidAccessKeyId``/``SignatureDoesNotMatch`` for bad credentials and
        ``AccessDenied`` for a missing permission.
        """
        bucket = self.settings.bucket
        doing = f"reach the bucket {bucket}"
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _error_code(exc)[1] != 403:
                raise translate_error(exc, doing) from exc
            self._explain_forbidden(exc, doing)
        except Exception as exc:
            raise translate_error(exc, doing) from exc
        probe = self._key(f"{PROBE_NAME}.{secrets.token_hex(8)}")
        try:
            self.client.put_object(Bucket=bucket, Key=probe, Body=b"")
        except Exception as exc:
            raise translate_error(exc, f"write the test object {self.describe(probe)}") from exc
        try:
            self.client.delete_object(Bucket=bucket, Key=probe)
        except Exception as exc:
            raise translate_error(exc, f"delete the test object {self.describe(probe)}") from exc

    def _explain_forbidden(self, head_error: ClientError, doing: str) -> None:
        try:
            self.client.list_objects_v2(
                Bucket=self.settings.bucket, Prefix=f"{self._root}/", MaxKeys=1
            )
        except ClientError as exc:
            error = translate_error(exc, doing)
            if isinstance(error, StorageAuthFailed | StoragePermissionDenied):
                raise error from head_error
            raise StoragePermissionDenied(
                f"Could not {doing}: access to the bucket is denied (HTTP 403)."
            ) from head_error
        except Exception as exc:
            raise translate_error(exc, doing) from exc
        # Listing is allowed though HEAD is not (a narrow bucket policy): the probe decides.


def checksums_field() -> serializers.ChoiceField:
    """The ``checksums`` option every S3-speaking type has: ``auto``, ``on`` or ``off``."""
    return serializers.ChoiceField(
        choices=["auto", "on", "off"],
        required=False,
        default="auto",
        help_text=(
            "CRC32 checksums on uploads, verified by the service: auto (on for Amazon S3, "
            "off for other endpoints), on, or off."
        ),
    )


class S3Config(ConfigSchema):
    endpoint = serializers.URLField(required=False, allow_null=True, allow_blank=True, default=None)
    bucket = serializers.CharField(min_length=3, max_length=63)
    region = serializers.CharField(max_length=64)
    access_key_id = serializers.CharField(max_length=256)
    secret_access_key = serializers.CharField(max_length=1024, trim_whitespace=False)
    storage_class = serializers.ChoiceField(
        choices=[
            "STANDARD",
            "STANDARD_IA",
            "ONEZONE_IA",
            "INTELLIGENT_TIERING",
            "GLACIER",
            "GLACIER_IR",
            "DEEP_ARCHIVE",
            "REDUCED_REDUNDANCY",
        ],
        required=False,
        allow_null=True,
    )
    prefix = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    checksums = checksums_field()


class S3Adapter(S3CompatibleAdapter):
    name = "s3"
    label = "Amazon S3 / S3-compatible"
    config_schema = S3Config
    secret_fields = frozenset({"secret_access_key"})

    @classmethod
    def s3_settings(cls, config: dict[str, Any]) -> S3Settings:
        return S3Settings(
            bucket=config["bucket"],
            prefix=config.get("prefix") or "",
            region=config.get("region") or None,
            access_key_id=config["access_key_id"],
            secret_access_key=config["secret_access_key"],
            endpoint_url=config.get("endpoint") or None,
            storage_class=config.get("storage_class") or None,
            checksums=config.get("checksums") or "auto",
        )
