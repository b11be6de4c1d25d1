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
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rest_framework import serializers

from core.registry import AbsolutePathField, ConfigSchema
from datasources.engines.base import (
    BackupStream,
    Engine,
    EngineError,
    HealthResult,
    RestoreSource,
)
from datasources.engines.files.backup import Producer, TarStream
from datasources.engines.files.health import check_directory
from datasources.engines.files.restore import restore_directory
from datasources.engines.files.verify import inspect_tree
from datasources.engines.process import widen_pipe
from datasources.engines.verification import Scratch


class FilesRestoreOptions(ConfigSchema):
    overwrite = serializers.BooleanField(
        required=False,
        label="Replace files that exist in the target",
        help_text="Files: replace files that exist in the target. Without it, files already "
        "there are kept (and listed).",
    )


class FilesConnectionSchema(ConfigSchema):
    source_path = AbsolutePathField()
    include_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )
    exclude_patterns = serializers.ListField(
        child=serializers.CharField(max_length=1024), required=False, default=list
    )


class FilesEngine(Engine):
    extension = "tar"
    name = "files"
    label = "Files"
    config_schema = FilesConnectionSchema
    replace_option = "overwrite"
    admin_restore_options = ("overwrite",)
    restore_options_schema = FilesRestoreOptions
    path_field = "source_path"
    path_label = "Directory"

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
        producer = Producer(
            source,
            config.get("include_patterns") or [],
            config.get("exclude_patterns") or [],
            write_end,
            threading.Event(),
        )
        stream = TarStream(source, producer, read_end)
        try:
            yield stream
        finally:
            stream.abort()

    # --- Health check ---------------------------------------------------------------------

    def check_health(self, config: dict[str, Any], timeout: float) -> HealthResult:
        return check_directory(Path(config["source_path"]))

    # --- Restore --------------------------------------------------------------------------

    def restore(
        self,
        config: dict[str, Any],
        options: dict[str, Any],
        source: RestoreSource,
        temp_dir: Path,
        manifest: dict[str, Any],
    ) -> dict[str, Any]:
        return restore_directory(
            Path(config["source_path"]), source, bool(options.get("overwrite"))
        )

    # --- Verification ---------------------------------------------------------------------

    def scratch(self, server: Mapping[str, Any], temp_dir: Path) -> AbstractContextManager[Scratch]:
        """A directory in the verification's own temporary directory."""
        return contextlib.nullcontext(
            Scratch({"source_path": str(temp_dir / "tree")}, inspect_tree)
        )
