"""``manage.py run [web|worker|beat|all]``: prepare the database, then start and supervise the
web server, the Celery workers and Celery beat as child processes.

Children run in process groups of their own, so a Ctrl-C in a terminal reaches only this
command, which then stops each child once and in order (SIGTERM, up to 30 s, then SIGKILL).
If a child dies on its own, the others are stopped and the command fails naming it.

Once every child is up (the web server answers ``/health`` with 200, each Celery process has
reported ready) the command prints, once, where the UI is, how to log in and the mode.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from gunicorn import version_info as gunicorn_version_info

from core.queues import QUEUES, QueuePolicy
from dataguardian.bootstrap import admin_password_file, ensure_admin_user
from dataguardian.celery import READY_DIR_ENV
from dataguardian.locations import source_checkout

logger = logging.getLogger("dataguardian.run")

TARGETS = ("web", "worker", "beat", "all")
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.5
# Children need no admin password; keep it out of their environment.
_SCRUBBED_ENV = ("DATAGUARDIAN_ADMIN_PASSWORD", "DATAGUARDIAN_ADMIN_PASSWORD_FILE")
# Any constant: serialises migrate + admin creation when several containers start at once.
_MIGRATE_LOCK_ID = 0x64675F72756E
#: Seconds the children have to come up before the command says which of them is not up yet.
READY_TIMEOUT = 120.0
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]
    #: How the child tells it is up: "http" (answers /health), "celery" (reports ready), or ""
    #: (up once started).
    ready: str = ""


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
    return ChildSpec(f"worker-{name}", argv, ready="celery")


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
        specs.append(ChildSpec("web", gunicorn + options + logs + control, ready="http"))
    if target in ("worker", "all"):
        specs.extend(worker_specs())
    if target in ("beat", "all"):
        beat = _celery("beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler")
        specs.append(ChildSpec("beat", (*beat, "--pidfile=", "--loglevel", "INFO"), ready="celery"))
    return specs


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def child_cwd() -> Path:
    """A checkout, so that ``python -m`` imports its code; for an installed package (already
    on the interpreter's path) the data directory, never site-packages."""
    return source_checkout() or Path(settings.DATA_DIR)


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


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def _probe_connection(bind: str) -> http.client.HTTPConnection:
    """A connection to the web server on ``bind`` (gunicorn's syntax), for this host."""
    if bind.startswith("unix:"):
        return _UnixHTTPConnection(bind.removeprefix("unix:"), PROBE_TIMEOUT)
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():  # no port ("localhost", "[::1]"): gunicorn's default
        host, port = bind, "8000"
    host = host.strip("[]")
    # A wildcard address is reached on the loopback of its family.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 (not a bind)
    return http.client.HTTPConnection(host, int(port), timeout=PROBE_TIMEOUT)


def _probe_host() -> str:
    """A Host header ALLOWED_HOSTS accepts (the Docker health check picks it the same way)."""
    names = (h.strip().lstrip(".") for h in settings.ALLOWED_HOSTS if "*" not in h)
    return next((name for name in names if name), "localhost")


def web_is_up(bind: str) -> bool:
    """Whether the web server on ``bind`` answers ``GET /health`` with 200 (database and
    broker reachable). A socket handed over as a file descriptor cannot be reached from here
    and counts as up."""
    if bind.startswith("fd://"):
        return True
    connection = _probe_connection(bind)
    headers = {"Host": _probe_host(), "User-Agent": "dataguardian-run"}
    try:
        connection.request("GET", "/health", headers=headers)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


class Readiness:
    """Which children are not up yet: the web server until it answers /health with 200, a
    Celery process until it has reported ready (a file named by its pid in ``directory``,
    written by ``dataguardian.celery``)."""

    def __init__(self, directory: Path, bind: str) -> None:
        self.directory = directory
        self.bind = bind
        self.up: set[str] = set()

    def pending(
        self, specs: list[ChildSpec], children: dict[str, subprocess.Popen[bytes]]
    ) -> list[str]:
        for spec in specs:
            if spec.name in self.up or spec.name not in children:
                continue
            if (
                not spec.ready
                or (
                    spec.ready == "celery"
                    and (self.directory / str(children[spec.name].pid)).exists()
                )
                or (spec.ready == "http" and web_is_up(self.bind))
            ):
                self.up.add(spec.name)
        return [spec.name for spec in specs if spec.name not in self.up]


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
        database = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
        connection.close()  # children open their own; do not hold this one while supervising
        specs = child_specs(target)
        self._supervise(specs, on_ready=lambda: self._summary(specs, database))

    def _summary(self, specs: list[ChildSpec], database: str) -> None:
        """Say, once, where the UI is, how to log in and what runs; never the password."""
        lines = []
        if any(spec.ready == "http" for spec in specs):
            password_file = admin_password_file()
            if password_file.exists():
                where = f"its generated password is in {password_file}"
            elif settings.ADMIN_PASSWORD:
                where = "password from DATAGUARDIAN_ADMIN_PASSWORD"
            else:
                where = "with the password set for it earlier"
            lines += [
                f"Web UI:     {settings.PUBLIC_URL}/admin/",
                f"Log in as:  {settings.ADMIN_USERNAME} ({where})",
            ]
        broker = "Redis" if str(settings.CELERY_BROKER_URL).startswith("redis") else "file broker"
        mode = "embedded" if settings.EMBEDDED else "server"
        lines.append(f"Mode:       {mode} ({database} + {broker})")
        if settings.EMBEDDED:
            lines.append(f"Data:       {settings.DATA_DIR}")
        if settings.LOG_FORMAT == "json":
            logger.info(
                "DataGuardian is ready. %s", "; ".join(" ".join(line.split()) for line in lines)
            )
            return
        body = "".join(f"  {line}\n" for line in lines)
        self.stdout.write(f"\nDataGuardian is ready.\n{body}  Ctrl-C stops everything.\n")
        self.stdout.flush()

    def _supervise(
        self, specs: list[ChildSpec], on_ready: Callable[[], None] | None = None
    ) -> None:
        """Start the children and watch them until a signal or a child's death; call
        ``on_ready`` once when every child is up."""
        with tempfile.TemporaryDirectory(prefix="dataguardian-run-") as ready_dir:
            self._run_children(specs, Path(ready_dir), on_ready)

    def _run_children(
        self, specs: list[ChildSpec], ready_dir: Path, on_ready: Callable[[], None] | None
    ) -> None:
        signals_received: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            signals_received.append(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen[bytes]] = {}
        died: tuple[str, int] | None = None
        readiness = Readiness(ready_dir, settings.BIND) if on_ready else None
        ready_by = time.monotonic() + READY_TIMEOUT
        try:
            env, preexec, cwd = (
                {**child_env(), READY_DIR_ENV: str(ready_dir)},
                _die_with_parent(),
                child_cwd(),
            )
            for spec in specs:
                if signals_received:
                    break
                proc = subprocess.Popen(  # argv list, no shell
                    list(spec.argv),
                    cwd=cwd,
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
                    if readiness is not None and on_ready is not None:
                        pending = readiness.pending(specs, children)
                        if not pending:
                            on_ready()
                            readiness = None
                        elif time.monotonic() > ready_by:
                            logger.warning(
                                "not up after %d s: %s; still waiting",
                                READY_TIMEOUT,
                                ", ".join(pending),
                            )
                            ready_by = float("inf")
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
