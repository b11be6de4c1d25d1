"""``manage.py run [web|worker|beat|all]``: prepare the database, then start and supervise the
web server, the Celery workers and Celery beat as child processes.

Children run in process groups of their own, so a Ctrl-C in a terminal reaches only this
command, which then stops each child once and in order (SIGTERM, up to 30 s, then SIGKILL).
If a child dies on its own, the others are stopped and the command fails naming it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from gunicorn import version_info as gunicorn_version_info

from core.queues import QUEUES, QueuePolicy
from dataguardian.bootstrap import ensure_admin_user

logger = logging.getLogger("dataguardian.run")

TARGETS = ("web", "worker", "beat", "all")
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.5
# Children need no admin password; keep it out of their environment.
_SCRUBBED_ENV = ("DATAGUARDIAN_ADMIN_PASSWORD", "DATAGUARDIAN_ADMIN_PASSWORD_FILE")
# Any constant: serialises migrate + admin creation when several containers start at once.
_MIGRATE_LOCK_ID = 0x64675F72756E


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]


def _celery(*args: str) -> tuple[str, ...]:
    # --quiet: no banner; the lines that matter are logged (dataguardian.celery's logging).
    return (sys.executable, "-m", "celery", "--quiet", "-A", "dataguardian", *args)


def _worker(name: str, queues: list[QueuePolicy], concurrency: int, pool: str) -> ChildSpec:
    argv = _celery(
        "worker",
        "-Q",
        ",".join(q.name for q in queues),
        "-c",
        str(concurrency),
        "--pool",
        pool,
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
    )
    if settings.EMBEDDED:
        # One host, file-system broker: worker-to-worker chatter only churns files.
        argv += ("--without-gossip", "--without-mingle", "--without-heartbeat")
    return ChildSpec(f"worker-{name}", argv)


def worker_specs() -> list[ChildSpec]:
    """One worker per queue policy; in embedded mode the light queues share one worker."""
    if not settings.EMBEDDED:
        return [_worker(q.name, [q], q.concurrency, q.pool) for q in QUEUES.values()]
    backups = QUEUES["backups"]
    light = [q for q in QUEUES.values() if q.name != backups.name]
    # Embedded mode is a small install on SQLite, where every Celery worker costs a Python
    # process with Django loaded (~60-90 MB) and each is one more SQLite writer. Backups keep
    # their own prefork worker (concurrency 3, killable subprocesses); health, notifications,
    # cleanup and scheduler only wait on I/O and are short, so they share one threads-pool
    # worker sized to the sum of their concurrencies. The price: scheduler/cleanup tasks lose
    # their solo pool here, so two of them can overlap; their tasks must tolerate that.
    return [
        _worker(backups.name, [backups], backups.concurrency, backups.pool),
        _worker("light", light, sum(q.concurrency for q in light), "threads"),
    ]


def child_specs(target: str) -> list[ChildSpec]:
    specs: list[ChildSpec] = []
    if target in ("web", "all"):
        gunicorn = (sys.executable, "-m", "gunicorn", "dataguardian.wsgi:application")
        options = ("--bind", settings.BIND, "--workers", str(settings.WEB_WORKERS))
        # The configuration hands gunicorn the project's logging, access log included.
        logs = ("--config", "python:dataguardian.gunicorn_config", "--graceful-timeout", "30")
        # gunicorn 27 opens a control socket at one fixed path in $HOME: two installs on one
        # host would fight over it, and nothing here uses it.
        control = ("--no-control-socket",) if gunicorn_version_info >= (27, 0) else ()
        specs.append(ChildSpec("web", gunicorn + options + logs + control))
    if target in ("worker", "all"):
        specs.extend(worker_specs())
    if target in ("beat", "all"):
        beat = _celery("beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler")
        specs.append(ChildSpec("beat", (*beat, "--pidfile=", "--loglevel", "INFO")))
    return specs


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook asking Linux to SIGTERM the child if this command dies (even SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent already died before prctl took effect
            os._exit(1)

    return hook


@contextlib.contextmanager
def _migrate_lock() -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_MIGRATE_LOCK_ID])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATE_LOCK_ID])


class Command(BaseCommand):
    help = (
        "Migrate, create the admin user, collect static files, then run and supervise the web "
        "server (gunicorn), the Celery workers (one per queue; embedded mode shares one among "
        "the light queues) and Celery beat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", nargs="?", choices=TARGETS, default="all")

    def handle(self, *args: Any, **options: Any) -> None:
        target: str = options["target"]
        verbosity: int = options["verbosity"]
        # The stream itself: a command's wrapper around this one would end each write with a
        # newline, putting migrate's " OK" on a line of its own.
        stream = self.stdout._out
        with _migrate_lock():
            call_command("migrate", interactive=False, verbosity=verbosity, stdout=stream)
            ensure_admin_user(stdout=self.stdout)
        if target in ("web", "all"):
            call_command("collectstatic", interactive=False, verbosity=verbosity, stdout=stream)
        connection.close()  # children open their own; do not hold this one while supervising
        self._supervise(child_specs(target))

    def _supervise(self, specs: list[ChildSpec]) -> None:
        signals_received: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            signals_received.append(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen[bytes]] = {}
        died: tuple[str, int] | None = None
        try:
            env, preexec = child_env(), _die_with_parent()
            for spec in specs:
                if signals_received:
                    break
                proc = subprocess.Popen(  # argv list, no shell
                    list(spec.argv),
                    cwd=settings.BASE_DIR,
                    env=env,
                    process_group=0,  # own group: a terminal Ctrl-C reaches only us
                    preexec_fn=preexec,
                )
                children[spec.name] = proc
                logger.info("started %s (pid %d)", spec.name, proc.pid)
            while not signals_received and died is None:
                for name, proc in children.items():
                    code = proc.poll()
                    if code is not None:
                        died = (name, code)
                        break
                else:
                    time.sleep(POLL_INTERVAL)
        finally:
            if died:
                logger.error(
                    "%s (pid %d) exited with code %d; stopping the others",
                    died[0],
                    children[died[0]].pid,
                    died[1],
                )
            elif signals_received:
                logger.info("received %s; stopping", signal.Signals(signals_received[0]).name)
            self._stop(children, signals_received)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if died:
            raise CommandError(f"{died[0]} exited on its own with code {died[1]}")

    def _stop(self, children: dict[str, subprocess.Popen[bytes]], signals: list[int]) -> None:
        """SIGTERM each child, wait up to STOP_TIMEOUT, then SIGKILL each remaining group."""
        already = len(signals)
        for name, proc in children.items():
            if proc.poll() is None:
                logger.info("stopping %s (pid %d)", name, proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        waiting = dict(children)
        # A second Ctrl-C/SIGTERM while waiting means "now".
        while waiting and time.monotonic() < deadline and len(signals) <= already:
            for name, proc in list(waiting.items()):
                if proc.poll() is not None:
                    logger.info("%s (pid %d) exited with code %d", name, proc.pid, proc.returncode)
                    del waiting[name]
            time.sleep(0.1)
        for name, proc in waiting.items():
            if proc.poll() is None:
                logger.warning("%s (pid %d) did not stop in time; killing it", name, proc.pid)
        for name, proc in children.items():
            # The whole group: also gunicorn workers or pool processes a dead leader left.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if name in waiting:
                logger.info("%s (pid %d) exited with code %d", name, proc.pid, proc.returncode)
