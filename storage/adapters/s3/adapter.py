"""The S3 API shared by every S3-speaking type."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, BinaryIO, ClassVar

import boto3.session
from botocore.config import Config
from botocore.exceptions import ClientError

from storage.adapters.base import (
    StorageAdapter,
    StorageAuthFailed,
    StorageError,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUsage,
    StorageWriter,
    StoredObject,
)
from storage.adapters.s3.errors import error_code, translate_error
from storage.adapters.s3.settings import CHECKSUM_ALGORITHM, S3Settings, relative_key
from storage.adapters.s3.writer import MIB, S3Writer, part_size_for

# botocore retries every call itself (see writer.PART_RETRY_DELAYS for parts).
BOTOCORE_MAX_ATTEMPTS = 5
DELETE_BATCH = 1000
PROBE_NAME = ".dataguardian-test"


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

    def object_arguments(self) -> dict[str, Any]:
        """Arguments for every object created (``PutObject``, ``CreateMultipartUpload``): the
        storage class, where one is set, and the checksum algorithm, when checksums are on."""
        storage_class = self.settings.storage_class
        arguments: dict[str, Any] = {"StorageClass": storage_class} if storage_class else {}
        return {**arguments, **self.checksum_arguments()}

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
            if error_code(exc)[1] == 404:
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
        writer = S3Writer(self, key, path, part_size_for(size_hint))
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
                if error_code(exc)[0] != "NoSuchUpload":  # finished meanwhile: fine
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
            if error_code(exc)[1] != 403:
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
