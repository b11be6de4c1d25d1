"""Directories of files, archived as tar.

The archive is produced on the fly: a producer thread walks ``source_path`` and writes a tar
stream (``tarfile`` mode ``w|``) into an ``os.pipe()``; the backup stream reads the other end.
Memory stays bounded by the pipe and tarfile's block buffer, whatever the size of the tree, and
no temporary copy of the archive is written.

Selection rules (``/``-separated paths relative to ``source_path``, matched with
``fnmatch.fnmatchcase``; ``*`` also matches ``/``):

* ``exclude_patterns`` drop a file, symlink or directory when its relative path or its name
  matches. A directory is also dropped, with everything under it, when ``<path>/`` matches, so
  ``temp/*`` (or ``temp/``) excludes the ``temp`` directory itself and its whole content.
* ``include_patterns``, when not empty, keep only the non-directory entries whose relative path
  or name matches one of them.
* Directories: without include patterns every directory that is not excluded is archived (empty
  ones too). With include patterns a directory is archived only when it contains included
  content.

Symlinks are stored as symlinks and never followed. Mode, mtime, uid/gid (and user/group names)
are kept. Sockets are skipped. Entries that cannot be read (``PermissionError``, or gone since
they were listed) are skipped and listed in ``metadata["unreadable"]`` (bounded) with a count.
A file that shrinks while it is read is padded with zeros and one that grows is cut at the size
it had when opened, so the archive stays valid; such files are listed in
``metadata["changed_during_backup"]``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from rest_framework import serializers

from dataguardian.registry import AbsolutePathField, ConfigSchema
from datasources.engines.base import (
    BackupResult,
    BackupStream,
    Engine,
    EngineError,
    HealthResult,
    RestoreSource,
    elapsed_ms,
)
from datasources.engines.process import widen_pipe

#: At most this many unreadable / changed paths are listed in the metadata.
MAX_LISTED_PATHS = 100
#: Size of the chunks read from source files and of tarfile's write buffer.
CHUNK_SIZE = 1024 * 1024
#: How long ``abort()`` waits for the producer thread.
ABORT_JOIN_TIMEOUT = 10.0


class FilesConnectionSchema(ConfigSchema):
    source_path = AbsolutePathField()
    include_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )
    exclude_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )


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


class _Producer:
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


class _TarStream:
    def __init__(self, source: Path, producer: _Producer, read_end: BinaryIO) -> None:
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
        return BackupResult("tar", metadata, files_count=stats.files_count)

    def abort(self) -> None:
        if self._aborted:
            return
        self._aborted = True
        self._producer.stop.set()
        # Closing the read end makes a producer blocked on the pipe fail with EPIPE.
        with contextlib.suppress(OSError):
            self._read_end.close()
        self._thread.join(ABORT_JOIN_TIMEOUT)


class FilesEngine(Engine):
    extension = "tar"
    name = "files"
    label = "Files"
    config_schema = FilesConnectionSchema

    @contextlib.contextmanager
    def backup(
        self, config: dict[str, Any], options: dict[str, Any], temp_dir: Path
    ) -> Iterator[BackupStream]:
        source = Path(config["source_path"])
        if not source.exists():
            raise EngineError(f"The source directory {source} does not exist.")
        if not source.is_dir():
            raise EngineError(f"The source path {source} is not a directory.")
        try:
            with os.scandir(source) as it:
                next(it, None)
        except OSError as exc:
            raise EngineError(f"The source directory {source} cannot be read: {exc}.") from exc
        read_fd, write_fd = os.pipe()
        widen_pipe(read_fd)
        read_end = os.fdopen(read_fd, "rb")
        write_end = os.fdopen(write_fd, "wb", buffering=0)
        producer = _Producer(
            source,
            config.get("include_patterns") or [],
            config.get("exclude_patterns") or [],
            write_end,
            threading.Event(),
        )
        stream = _TarStream(source, producer, read_end)
        try:
            yield stream
        finally:
            stream.abort()

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        return _check_health(Path(config["source_path"]))

    # --- Restore --------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        return _restore(Path(config["source_path"]), source, bool(options.get("overwrite")))


# --- Health check ---------------------------------------------------------------------------

#: Above this share of its file system in use, a files datasource is reported with a warning.
DISK_WARNING_PERCENT = 90.0


def _check_health(source: Path) -> HealthResult:
    """The directory exists and can be listed; how full its file system is.

    A missing directory is ``unreachable`` (nothing there to back up, as with a host that is
    down); one that exists but cannot be listed is ``error``. Local calls return at once, so the
    check needs no timeout of its own (a hung network mount is the exception it cannot bound).
    """
    started = time.monotonic()
    if not source.exists():
        return HealthResult(
            "unreachable",
            elapsed_ms(started),
            error_message=f"The source directory {source} does not exist.",
        )
    try:
        with os.scandir(source) as it:
            next(it, None)
        disk = shutil.disk_usage(source)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return HealthResult(
            "error", elapsed_ms(started), error_message=f"Cannot read {source}: {reason}."
        )
    latency = elapsed_ms(started)
    used_percent = round(100 * (disk.total - disk.free) / disk.total, 1) if disk.total else 0.0
    warning = ""
    if used_percent > DISK_WARNING_PERCENT:
        warning = (
            f"The file system of {source} is {used_percent:g}% full "
            f"(warning above {DISK_WARNING_PERCENT:g}%)."
        )
    return HealthResult(
        "ok",
        latency,
        metadata={
            "disk_used_percent": used_percent,
            "disk_free_bytes": disk.free,
            "disk_total_bytes": disk.total,
        },
        warning=warning,
    )


# --- Restore --------------------------------------------------------------------------------
#
# The archive is extracted into an empty staging directory beside the target, then its entries
# are moved into place. Extraction uses tarfile's ``data`` filter (which resolves every path
# and link against the staging directory as it stands) after checks of our own on each member
# as written in the archive; what fails either is skipped and listed, never written. Moving
# into place never follows a symlink: it descends only into real directories (``lstat``).


@dataclass
class _RestoreStats:
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    kept: list[str] = field(default_factory=list)
    kept_count: int = 0
    directories: dict[str, tuple[int, float]] = field(default_factory=dict)

    def skip(self, name: str, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_LISTED_PATHS:
            self.skipped.append(f"{name}: {reason}")

    def keep(self, rel: str) -> None:
        self.kept_count += 1
        if len(self.kept) < MAX_LISTED_PATHS:
            self.kept.append(rel)


def _restore(target: Path, source: RestoreSource, overwrite: bool) -> dict[str, Any]:
    parent = target.parent
    if not parent.is_dir():
        raise EngineError(f"The parent directory of the restore target {target} does not exist.")
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(os.lstat(target).st_mode):
            raise EngineError(f"The restore target {target} exists and is not a directory.")
    stats = _RestoreStats()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restoring-", dir=parent))
    try:
        _extract_safely(source, staging, stats)
        _drop_escaping_links(staging, stats)
        _apply_directory_attributes(staging, stats.directories)
        target.mkdir(mode=0o755, exist_ok=True)
        _merge(staging, target, "", overwrite, stats)
        if overwrite:
            _apply_directory_attributes(target, stats.directories)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {
        "target_path": str(target),
        "files_restored": stats.files,
        "skipped_entries": stats.skipped,
        "skipped_count": stats.skipped_count,
        "kept_existing": stats.kept,
        "kept_existing_count": stats.kept_count,
    }


def _unsafe(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` must not be extracted, judged on the archive's own names."""
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith("/") or os.path.isabs(name):
        return "absolute path"
    if ".." in parts:
        return "'..' in the path"
    if member.ischr() or member.isblk() or member.isfifo():
        return "device or fifo"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "unsupported entry type"
    if member.issym() or member.islnk():
        link = member.linkname
        if link.startswith("/"):
            return "link to an absolute path"
        base = posixpath.dirname(name) if member.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, link))
        if resolved == ".." or resolved.startswith("../"):
            return "link pointing outside the restore"
    return None


def _keep_modes(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """The ``data`` filter, but files and directories keep their permission bits (it would
    clear group/other write); setuid, setgid and sticky bits stay cleared."""
    checked = tarfile.data_filter(member, path)
    if checked is not None and (checked.isfile() or checked.isdir()):
        return checked.replace(mode=member.mode & 0o777, deep=False)
    return checked


def _extract_safely(source: RestoreSource, staging: Path, stats: _RestoreStats) -> None:
    root = os.path.realpath(staging)
    with tarfile.open(fileobj=source, mode="r|") as tar:  # type: ignore[call-overload]
        for member in tar:
            name = posixpath.normpath(member.name)
            if name == ".":
                continue
            reason = _unsafe(member)
            where = os.path.realpath(staging / posixpath.dirname(name))
            if reason is None and os.path.commonpath([root, where]) != root:
                reason = "path goes through a link outside the restore"
            if reason is not None:
                stats.skip(member.name, reason)
                continue
            try:
                tar.extract(member, staging, filter=_keep_modes)
            except tarfile.FilterError as exc:
                stats.skip(member.name, str(exc))
                continue
            if member.isdir():
                stats.directories[name] = (member.mode & 0o777, member.mtime)
            elif member.isfile() or member.islnk():
                stats.files += 1


def _drop_escaping_links(staging: Path, stats: _RestoreStats) -> None:
    """Remove symlinks that, with every link of the archive in place, resolve outside it (a
    link that was safe when extracted can be redirected by a later one)."""
    root = os.path.realpath(staging)
    for directory, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if os.path.commonpath([root, real]) != root:
                    os.unlink(path)
                    stats.skip(os.path.relpath(path, staging), "link pointing outside the restore")


def _apply_directory_attributes(root: Path, directories: dict[str, tuple[int, float]]) -> None:
    """Directory modes and mtimes, deepest first: extracting or moving an entry into a
    directory changes its mtime."""
    for rel in sorted(directories, key=lambda r: r.count("/"), reverse=True):
        path = root / rel
        if path.is_symlink() or not path.is_dir():
            continue
        mode, mtime = directories[rel]
        os.chmod(path, mode)
        os.utime(path, (mtime, mtime))


def _merge(source: Path, target: Path, rel: str, overwrite: bool, stats: _RestoreStats) -> None:
    """Move the entries of ``source`` into ``target``. New entries are renamed into place
    whole; existing ones are kept unless ``overwrite``; only real directories are merged."""
    with os.scandir(source) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        destination = target / entry.name
        entry_rel = f"{rel}/{entry.name}" if rel else entry.name
        try:
            existing: os.stat_result | None = os.lstat(destination)
        except FileNotFoundError:
            existing = None
        is_dir = entry.is_dir(follow_symlinks=False)
        if existing is None:
            os.rename(entry.path, destination)
            continue
        if is_dir and stat.S_ISDIR(existing.st_mode):
            _merge(Path(entry.path), destination, entry_rel, overwrite, stats)
            continue
        if not overwrite:
            stats.keep(entry_rel)
            continue
        if stat.S_ISDIR(existing.st_mode):
            shutil.rmtree(destination)
        else:
            destination.unlink()
        os.rename(entry.path, destination)
