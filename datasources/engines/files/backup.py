"""The backup side: walking the source tree and streaming it as tar from a producer thread."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
import tarfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from datasources.engines.base import BackupResult, EngineError

#: At most this many unreadable / changed paths are listed in the metadata.
MAX_LISTED_PATHS = 100
#: Size of the chunks read from source files and of tarfile's write buffer.
CHUNK_SIZE = 1024 * 1024
#: How long ``abort()`` waits for the producer thread.
ABORT_JOIN_TIMEOUT = 10.0


class _Aborted(Exception):
    pass


def _matches(patterns: Sequence[str], *candidates: str) -> bool:
    return any(fnmatch.fnmatchcase(c, p) for p in patterns for c in candidates)


@dataclass
class _Stats:
    files_count: int = 0
    dirs_count: int = 0
    links_count: int = 0
    other_count: int = 0
    total_bytes: int = 0
    entries_seen: int = 0
    unreadable_count: int = 0
    unreadable: list[str] = field(default_factory=list)
    changed_count: int = 0
    changed: list[str] = field(default_factory=list)

    def add_unreadable(self, rel: str) -> None:
        self.unreadable_count += 1
        if len(self.unreadable) < MAX_LISTED_PATHS:
            self.unreadable.append(rel)

    def add_changed(self, rel: str) -> None:
        self.changed_count += 1
        if len(self.changed) < MAX_LISTED_PATHS:
            self.changed.append(rel)

    @property
    def archived(self) -> int:
        return self.files_count + self.dirs_count + self.links_count + self.other_count


class _FixedSizeReader:
    """Reads exactly ``size`` bytes of a file opened earlier: zeros past a premature end (or a
    read error), nothing past ``size``. Keeps the tar member consistent with its header."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file = file
        self._left = size
        self.changed = False

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        if n == 0:
            return b""
        data = b""
        if not self.changed:
            try:
                data = self._file.read(n)
            except OSError:
                data = b""
            if len(data) < n:
                self.changed = True
        if len(data) < n:
            data += bytes(n - len(data))
        self._left -= n
        return data


class Producer:
    def __init__(
        self,
        source: Path,
        include: Sequence[str],
        exclude: Sequence[str],
        out: BinaryIO,
        stop: threading.Event,
    ) -> None:
        self.source = source
        self.include = list(include)
        self.exclude = list(exclude)
        self.out = out
        self.stop = stop
        self.stats = _Stats()
        self.error: BaseException | None = None
        self._tar: tarfile.TarFile | None = None
        # Directories found but not yet written (only with include patterns).
        self._pending: list[tarfile.TarInfo] = []

    def run(self) -> None:
        try:
            with tarfile.open(
                mode="w|", fileobj=self.out, bufsize=CHUNK_SIZE, format=tarfile.PAX_FORMAT
            ) as tar:
                self._tar = tar
                self._walk(str(self.source), "")
        except _Aborted:
            pass
        except BrokenPipeError:
            if not self.stop.is_set():
                self.error = EngineError("The reader of the files backup went away.")
        except BaseException as exc:  # surfaced by finish()
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                self.out.close()

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise _Aborted

    def _flush_pending(self) -> None:
        assert self._tar is not None
        for info in self._pending:
            self._tar.addfile(info)
            self.stats.dirs_count += 1
        self._pending.clear()

    def _walk(self, path: str, rel_dir: str) -> None:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            if not rel_dir:
                raise
            self.stats.add_unreadable(rel_dir + "/")
            return
        for entry in entries:
            self._check_stop()
            self.stats.entries_seen += 1
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                self.stats.add_unreadable(rel)
                continue
            if is_dir:
                self._directory(entry.path, rel, entry.name)
            else:
                self._non_directory(entry.path, rel, entry.name)

    def _directory(self, path: str, rel: str, name: str) -> None:
        if _matches(self.exclude, rel, name, rel + "/"):
            return
        assert self._tar is not None
        try:
            info = self._tar.gettarinfo(path, arcname=rel)
        except (PermissionError, FileNotFoundError):
            self.stats.add_unreadable(rel + "/")
            return
        if self.include:
            self._pending.append(info)
            depth = len(self._pending)
            self._walk(path, rel)
            # Nothing included below: forget this directory (and anything left above it).
            del self._pending[depth - 1 :]
        else:
            self._tar.addfile(info)
            self.stats.dirs_count += 1
            self._walk(path, rel)

    def _non_directory(self, path: str, rel: str, name: str) -> None:
        if _matches(self.exclude, rel, name):
            return
        if self.include and not _matches(self.include, rel, name):
            return
        assert self._tar is not None
        try:
            mode = os.lstat(path).st_mode
        except (PermissionError, FileNotFoundError):
            self.stats.add_unreadable(rel)
            return
        if stat.S_ISSOCK(mode):
            return
        if not stat.S_ISREG(mode):
            # Symlink, FIFO or device node: no content is read.
            try:
                info = self._tar.gettarinfo(path, arcname=rel)
            except (PermissionError, FileNotFoundError):
                self.stats.add_unreadable(rel)
                return
            self._flush_pending()
            self._tar.addfile(info)
            if info.issym():
                self.stats.links_count += 1
            else:
                self.stats.other_count += 1
            return
        try:
            # O_NOFOLLOW: a file swapped for a symlink since it was listed is not followed.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            self.stats.add_unreadable(rel)
            return
        with os.fdopen(fd, "rb") as file:
            info = self._tar.gettarinfo(arcname=rel, fileobj=file)
            if not info.isreg():
                # Replaced by something else since it was listed (or a hard link to a file
                # already archived, which tar stores as a link).
                if info.islnk():
                    self._flush_pending()
                    self._tar.addfile(info)
                    self.stats.other_count += 1
                else:
                    self.stats.add_unreadable(rel)
                return
            self._flush_pending()
            reader = _FixedSizeReader(file, info.size)
            self._tar.addfile(info, reader)
            if reader.changed:
                self.stats.add_changed(rel)
            self.stats.files_count += 1
            self.stats.total_bytes += info.size


class TarStream:
    def __init__(self, source: Path, producer: Producer, read_end: BinaryIO) -> None:
        self._source = source
        self._producer = producer
        self._read_end = read_end
        self._thread = threading.Thread(
            target=producer.run, name=f"files-backup:{source}", daemon=True
        )
        self._aborted = False
        self._thread.start()

    def read(self, size: int = -1, /) -> bytes:
        if self._aborted:
            raise EngineError("The files backup was aborted.")
        return self._read_end.read(size)

    def finish(self) -> BackupResult:
        if self._aborted:
            raise EngineError("The files backup was aborted.")
        # Drain anything left so the producer can end, then wait for it.
        while self._read_end.read(CHUNK_SIZE):
            pass
        self._thread.join()
        self._read_end.close()
        producer = self._producer
        if producer.error is not None:
            error = producer.error
            if isinstance(error, EngineError):
                raise error
            raise EngineError(
                f"Archiving {self._source} failed: {type(error).__name__}: {error}"
            ) from error
        stats = producer.stats
        if stats.unreadable_count and not stats.archived - stats.dirs_count:
            raise EngineError(
                f"Nothing under {self._source} could be read "
                f"({stats.unreadable_count} unreadable entries, e.g. {stats.unreadable[0]})."
            )
        summary = (
            f"Archived {stats.files_count} files ({stats.total_bytes} bytes), "
            f"{stats.dirs_count} directories, {stats.links_count} symlinks"
            f"{f', {stats.other_count} other entries' if stats.other_count else ''}; "
            f"skipped {stats.unreadable_count} unreadable entries"
            f"{f'; {stats.changed_count} files changed while read' if stats.changed_count else ''}."
        )
        metadata: dict[str, Any] = {
            "files_count": stats.files_count,
            "directories_count": stats.dirs_count,
            "symlinks_count": stats.links_count,
            "total_bytes": stats.total_bytes,
            "unreadable_count": stats.unreadable_count,
            "unreadable": list(stats.unreadable),
            "changed_during_backup_count": stats.changed_count,
            "changed_during_backup": list(stats.changed),
            "engine_output": summary,
        }
        return BackupResult(metadata, files_count=stats.files_count)

    def abort(self) -> None:
        if self._aborted:
            return
        self._aborted = True
        self._producer.stop.set()
        # Closing the read end makes a producer blocked on the pipe fail with EPIPE.
        with contextlib.suppress(OSError):
            self._read_end.close()
        self._thread.join(ABORT_JOIN_TIMEOUT)
