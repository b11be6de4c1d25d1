"""Streamed uploads: parts buffered, sent in the background, published or aborted."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from storage.adapters.base import StorageError
from storage.adapters.s3.errors import is_transient, precondition_failed, translate_error
from storage.adapters.s3.settings import CHECKSUM_ALGORITHM

if TYPE_CHECKING:
    from storage.adapters.s3.adapter import S3CompatibleAdapter

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# S3 refuses parts under 5 MiB (except the last); 8 MiB keeps the request count of small
# artifacts low without holding much in memory.
MIN_PART_SIZE = 8 * MIB
DEFAULT_PART_SIZE = 16 * MIB
# Parts held in memory at once by an upload: one filling while the previous one is sent.
UPLOAD_BUFFERS = 2
MAX_PART_SIZE = 5 * 1024 * MIB
# The service's hard limit on parts per upload.
MAX_PARTS = 10_000
# The hint is an estimate; sizing parts for 1.5 times it, over 9,000 parts, leaves room for an
# artifact that turns out bigger than expected before the 10,000-part limit is reached.
HINT_MARGIN = 1.5
HINT_PARTS = 9_000
# A part gets our own attempts on top of botocore's, because losing one part late in a long
# upload would otherwise throw away everything sent before it.
PART_RETRY_DELAYS: tuple[float, ...] = (1.0, 4.0)


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


class S3Writer:
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
            kwargs = self._adapter.object_arguments()
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
                if delay is None or not is_transient(exc):
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
            kwargs = {**self._adapter.object_arguments(), **condition}
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
            if precondition_failed(exc):
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
