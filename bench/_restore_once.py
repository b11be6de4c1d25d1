"""Run one DataGuardian restore of a backup into an empty database and print its figures as JSON.

    _restore_once.py <backup_path> <target database>

Used by bench/restore_postgres.py. The restore runs in this process exactly as a worker runs
it (``restore_execution`` then ``perform_restore``); peak RSS is this process's own (the Python
side of the pipeline), pg_restore's memory is its own process's.

To split the restore into phases without touching the code under test, two module-level
functions are wrapped here before the restore starts (``perform_restore`` and the engine look
them up when called): the verification pass, and ``feed_tool``, whose ``read`` callable is
timed too. Time inside ``read`` is the Python side producing data (storage reads, the second
SHA-256, zstd); the rest of ``feed_tool`` is time spent blocked writing into pg_restore's
stdin or waiting for it to finish.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django

django.setup()

import datasources.engines.postgres.restore as postgres_restore  # noqa: E402
import executions.restore as restore_module  # noqa: E402
from datasources.engines.process import feed_tool as original_feed_tool  # noqa: E402
from datasources.models import Datasource  # noqa: E402
from executions.models import BackupExecution  # noqa: E402

phases = {"verify": 0.0, "feed": 0.0, "feed_read": 0.0}
reads = {"count": 0, "bytes": 0}
tool: list[str] = []


P = ParamSpec("P")
R = TypeVar("R")


def timed(name: str, function: Callable[P, R]) -> Callable[P, R]:
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] += time.monotonic() - started

    return wrapper


def timed_feed_tool(argv: Any, env: Any, read: Callable[[int], bytes], **kwargs: Any) -> str:
    def timed_read(size: int) -> bytes:
        started = time.monotonic()
        data = read(size)
        phases["feed_read"] += time.monotonic() - started
        reads["count"] += 1
        reads["bytes"] += len(data)
        return data

    tool.append(str(argv[0]))
    return timed("feed", original_feed_tool)(argv, env, timed_read, **kwargs)


restore_module.verify_chunks = timed("verify", restore_module.verify_chunks)
postgres_restore.feed_tool = timed_feed_tool  # type: ignore[attr-defined]

started = time.monotonic()
backup_path, target_db = sys.argv[1], sys.argv[2]
backup = BackupExecution.objects.get(backup_path=backup_path, kind=BackupExecution.Kind.BACKUP)
target, _ = Datasource.objects.update_or_create(
    name=target_db,
    defaults={
        "type": "postgres",
        "connection_config": {
            "host": "127.0.0.1",
            "port": 5432,
            "database": target_db,
            "username": "postgres",
            "password": "",
        },
    },
)
execution = restore_module.restore_execution(backup, target_datasource=target, confirm=True)
execution = BackupExecution.objects.select_related(
    "job", "datasource", "storage_location", "source_execution"
).get(pk=execution.pk)
restore_started = time.monotonic()
ok = restore_module.perform_restore(execution)
restore_seconds = time.monotonic() - restore_started
execution.refresh_from_db()
print(
    json.dumps(
        {
            "ok": ok,
            "error": execution.error_message,
            "seconds": time.monotonic() - started,
            "restore_seconds": restore_seconds,
            "verify_seconds": phases["verify"],
            "feed_seconds": phases["feed"],
            "feed_read_seconds": phases["feed_read"],
            "feed_reads": reads["count"],
            "restored_bytes": reads["bytes"],
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "tool": tool[0] if tool else None,
            "tool_version": execution.metadata.get("tool_version"),
        }
    )
)
