"""The restore side: safe extraction into a staging directory, then a merge into the target."""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from datasources.engines.base import EngineError, RestoreSource
from datasources.engines.files.backup import MAX_LISTED_PATHS

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


def restore_directory(target: Path, source: RestoreSource, overwrite: bool) -> dict[str, Any]:
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
            if reason is None and member.islnk():
                reason = _missing_link_target(member, staging, root)
            if reason is not None:
                stats.skip(member.name, reason)
                continue
            try:
                tar.extract(member, staging, filter=_keep_modes)
            except tarfile.FilterError as exc:
                stats.skip(member.name, str(exc))
                continue
            except KeyError:  # a hard link tarfile could not make and cannot find in a stream
                stats.skip(member.name, _not_restored(member))
                continue
            if member.isdir():
                stats.directories[name] = (member.mode & 0o777, member.mtime)
            elif member.isfile() or member.islnk():
                stats.files += 1


def _not_restored(member: tarfile.TarInfo) -> str:
    return f"hard link to {member.linkname!r}, which is not a file this restore wrote"


def _missing_link_target(member: tarfile.TarInfo, staging: Path, root: str) -> str | None:
    """Why the hard link ``member`` cannot be made: its target must be a regular file that this
    restore has already written inside the staging directory (not one that was skipped, nor
    one reached through a link that was)."""
    target = os.path.realpath(staging / posixpath.normpath(member.linkname))
    if os.path.commonpath([root, target]) != root or not os.path.isfile(target):
        return _not_restored(member)
    return None


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
