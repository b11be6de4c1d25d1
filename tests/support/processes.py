"""The processes a test starts: the environment that points a child (a Celery worker, a command)
at the test's database and broker in either mode; the tree under a pid seen through /proc, each
one's command line and memory, and killing whatever survives; a free loopback port and a JSON
GET."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process that works on this test's database and broker: the test
    PostgreSQL database and Redis, or the test SQLite file and the file-system broker of the
    same data directory."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["DATAGUARDIAN_DATA_DIR"] = str(settings.DATA_DIR)
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env["REDIS_URL"] = settings.CELERY_BROKER_URL
        env["DATABASE_CONN_MAX_AGE"] = "0"
    env.update(extra)
    return env


def run_python(
    code: str,
    *,
    drop: tuple[str, ...],
    env: dict[str, str] | None = None,
    preset_settings: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` in the checkout, in this environment minus the variables whose
    names start with one of ``drop``, plus ``env`` and (unless ``preset_settings`` is false)
    the project's settings module: settings are module-level, so a case that changes them
    needs a fresh interpreter."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if preset_settings:
        clean["DJANGO_SETTINGS_MODULE"] = "dataguardian.settings"
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for_health(
    proc: subprocess.Popen[bytes],
    port: int,
    seen: dict[int, int],
    output: Callable[[], str],
    timeout: float,
) -> tuple[dict[str, Any], float]:
    """Poll ``/health`` on ``port`` until it answers 200 while ``proc`` keeps running, noting
    every descendant seen in ``seen``; the answer and the seconds it took. Fails the test with
    ``output()`` if ``proc`` exits first or the time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert proc.poll() is None, f"run exited early ({proc.returncode}):\n{output()}"
        remember(seen, descendant_pids(proc.pid))
        status, body = get_json(f"http://127.0.0.1:{port}/health")
        if status == 200 and body is not None:
            return body, time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"/health never answered 200 within {timeout:g} s:\n{output()}")


# What each Celery worker ("<name>@<host> ready.") and beat ("beat: Starting...") log when up.
READY = re.compile(r"\b\w+@\S+ ready\.|beat: Starting\.\.\.")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of ``pid`` from /proc, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the comm may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def child_pids(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = proc_stat(int(entry.name))
            if info and info[1] == pid and info[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def descendant_pids(pid: int) -> list[int]:
    result, todo = [], [pid]
    while todo:
        for child in child_pids(todo.pop()):
            result.append(child)
            todo.append(child)
    return result


def alive(pid: int, started: int) -> bool:
    info = proc_stat(pid)
    return info is not None and info[2] == started and info[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return raw.decode(errors="replace").rstrip("\0").split("\0")


def rss_kib(pid: int) -> int:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get_json(url: str) -> tuple[int, dict[str, Any] | None]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (http, loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


def remember(seen: dict[int, int], pids: list[int]) -> None:
    for pid in pids:
        if pid not in seen and (info := proc_stat(pid)):
            seen[pid] = info[2]


def kill_survivors(seen: dict[int, int]) -> None:
    """SIGKILL whatever is still alive of ``seen`` (pid -> start time, so no reused pid)."""
    for pid, started in seen.items():
        if alive(pid, started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # children lead their own process groups
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
