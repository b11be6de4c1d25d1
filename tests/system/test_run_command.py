"""``manage.py run``: the admin bootstrap, the process plan, and a real embedded boot."""

from __future__ import annotations

import contextlib
import http.server
import io
import logging
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from core.queues import QUEUES
from dataguardian.bootstrap import admin_password_file, ensure_admin_user
from dataguardian.celery import READY_DIR_ENV
from dataguardian.management.commands import run
from tests.support.processes import (
    READY,
    alive,
    child_pids,
    cmdline,
    descendant_pids,
    free_port,
    get_json,
    kill_survivors,
    proc_stat,
    remember,
    rss_kib,
    wait_for_health,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_TEST_PASSWORD = "Run-Test-Pw-5f9c2e"
SUMMARY = "DataGuardian is ready."


# --- ensure_admin_user ---------------------------------------------------------------------


@pytest.fixture
def admin_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ADMIN_USERNAME = "boss"
    settings.ADMIN_EMAIL = "boss@example.com"
    settings.ADMIN_PASSWORD = None
    return settings


@pytest.mark.django_db
def test_ensure_admin_user_generates_a_private_password_and_prints_only_its_path(
    admin_settings, capsys
):
    assert ensure_admin_user() is True

    path = admin_password_file()
    assert path == admin_settings.DATA_DIR / "admin_password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 16
    user = get_user_model().objects.get(username="boss")
    assert user.is_superuser
    assert user.is_staff
    assert user.email == "boss@example.com"
    assert user.check_password(password)
    out, err = capsys.readouterr()
    assert str(path) in out
    assert password not in out + err


@pytest.mark.django_db
def test_ensure_admin_user_is_idempotent(admin_settings, capsys):
    assert ensure_admin_user() is True
    first_password = admin_password_file().read_text()
    capsys.readouterr()

    assert ensure_admin_user() is False

    assert get_user_model().objects.filter(username="boss").count() == 1
    assert admin_password_file().read_text() == first_password
    assert capsys.readouterr().out == ""


@pytest.mark.django_db
def test_ensure_admin_user_uses_the_configured_password_and_writes_no_file(admin_settings):
    admin_settings.ADMIN_PASSWORD = "Configured-Pw-81d3"
    out = io.StringIO()

    assert ensure_admin_user(stdout=out) is True

    assert get_user_model().objects.get(username="boss").check_password("Configured-Pw-81d3")
    assert not admin_password_file().exists()
    assert "Configured-Pw-81d3" not in out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_user_leaves_an_existing_user_alone(admin_settings):
    get_user_model().objects.create_user("boss", password="Their-Own-Pw-33aa")

    assert ensure_admin_user(stdout=io.StringIO()) is False

    user = get_user_model().objects.get(username="boss")
    assert user.check_password("Their-Own-Pw-33aa")
    assert not user.is_superuser
    assert not admin_password_file().exists()


# --- the process plan ----------------------------------------------------------------------


def _consumed_queues(specs: list[run.ChildSpec]) -> dict[str, tuple[int, str]]:
    """queue name -> (worker concurrency, pool) from the workers' argv."""
    consumed: dict[str, tuple[int, str]] = {}
    for spec in specs:
        argv = list(spec.argv)
        if "worker" not in argv:
            continue
        queues = argv[argv.index("-Q") + 1].split(",")
        concurrency = int(argv[argv.index("-c") + 1])
        pool = argv[argv.index("--pool") + 1]
        for queue in queues:
            assert queue not in consumed, f"{queue} consumed twice"
            consumed[queue] = (concurrency, pool)
    return consumed


@pytest.mark.parametrize("embedded", [True, False])
def test_every_queue_is_consumed_and_backups_keep_three_processes(settings, embedded):
    settings.EMBEDDED = embedded

    consumed = _consumed_queues(run.child_specs("all"))

    assert set(consumed) == set(QUEUES)
    assert consumed["backups"] == (3, "prefork")


def test_server_mode_runs_one_worker_per_queue_with_its_policy(settings):
    settings.EMBEDDED = False

    consumed = _consumed_queues(run.child_specs("worker"))

    assert consumed == {q.name: (q.concurrency, q.pool) for q in QUEUES.values()}


def test_targets_select_their_processes(settings):
    settings.BIND = "0.0.0.0:9999"
    settings.WEB_WORKERS = 3
    names = {t: [s.name for s in run.child_specs(t)] for t in run.TARGETS}

    assert names["web"] == ["web"]
    assert names["beat"] == ["beat"]
    assert all(n.startswith("worker-") for n in names["worker"])
    assert names["all"] == ["web", *names["worker"], "beat"]
    web = list(run.child_specs("web")[0].argv)
    assert web[web.index("--bind") + 1] == "0.0.0.0:9999"
    assert web[web.index("--workers") + 1] == "3"
    assert "dataguardian.wsgi:application" in web
    beat = run.child_specs("beat")[0].argv
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert "--pidfile=" in beat


def test_children_get_no_admin_password(monkeypatch):
    monkeypatch.setenv("DATAGUARDIAN_ADMIN_PASSWORD", "Never-In-Children-1")
    monkeypatch.setenv("DATAGUARDIAN_ADMIN_PASSWORD_FILE", "/run/secrets/admin")

    env = run.child_env()

    assert "DATAGUARDIAN_ADMIN_PASSWORD" not in env
    assert "DATAGUARDIAN_ADMIN_PASSWORD_FILE" not in env
    for spec in run.child_specs("all"):
        assert "Never-In-Children-1" not in " ".join(spec.argv)


# --- supervision, with stand-in children --------------------------------------------------


def _py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def _started_pids(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    found = {}
    for record in caplog.records:
        match = re.fullmatch(r"started (\S+) \(pid (\d+)\)", record.getMessage())
        if match:
            found[match[1]] = int(match[2])
    return found


def test_a_child_that_dies_stops_the_others_and_fails_naming_it(caplog):
    caplog.set_level(logging.INFO, logger="dataguardian.run")
    specs = [
        run.ChildSpec("sleeper", _py("import time; time.sleep(60)")),
        run.ChildSpec("crasher", _py("import time, sys; time.sleep(0.5); sys.exit(3)")),
    ]
    started = time.monotonic()

    with pytest.raises(CommandError, match="crasher exited on its own with code 3"):
        run.Command()._supervise(specs)

    assert time.monotonic() - started < 10
    pids = _started_pids(caplog)
    assert set(pids) == {"sleeper", "crasher"}
    assert all(proc_stat(pid) is None for pid in pids.values())
    assert any("crasher (pid" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


def test_sigterm_stops_children_and_kills_stragglers(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="dataguardian.run")
    monkeypatch.setattr(run, "STOP_TIMEOUT", 1.0)
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    specs = [
        run.ChildSpec("polite", _py("import time; time.sleep(60)")),
        run.ChildSpec("stubborn", _py(stubborn)),
    ]
    handler_before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        run.Command()._supervise(specs)  # returns normally: a requested stop is a success
    finally:
        timer.cancel()

    pids = _started_pids(caplog)
    assert set(pids) == {"polite", "stubborn"}
    assert all(proc_stat(pid) is None for pid in pids.values())
    messages = [r.getMessage() for r in caplog.records]
    assert f"stubborn (pid {pids['stubborn']}) did not stop in time; killing it" in messages
    assert f"polite (pid {pids['polite']}) exited with code -15" in messages
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the command restored it


def test_children_run_in_their_own_process_group(caplog):
    caplog.set_level(logging.INFO, logger="dataguardian.run")
    code = "import os, sys; sys.exit(0 if os.getpgid(0) == os.getpid() else 7)"

    # It exits on its own either way; the exit code says whether it led its own group.
    with pytest.raises(CommandError, match="with code 0"):
        run.Command()._supervise([run.ChildSpec("grouped", _py(code))])


# --- readiness and the summary -------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "host", "port"),
    [
        ("127.0.0.1:8000", "127.0.0.1", 8000),
        ("0.0.0.0:9000", "127.0.0.1", 9000),
        ("[::]:8000", "::1", 8000),
        ("[::1]", "::1", 8000),
        ("localhost", "localhost", 8000),
        ("backup.example.com:80", "backup.example.com", 80),
    ],
)
def test_the_probe_goes_to_the_bind_address_a_wildcard_to_the_loopback(bind, host, port):
    connection = run._probe_connection(bind)

    assert (connection.host, connection.port) == (host, port)


class _Health(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    hosts: list[str] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        self.send_response(self.answers.pop(0) if self.answers else 200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {"answers": [], "hosts": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_web_server_is_up_once_health_answers_200(health_server, settings):
    bind, handler = health_server
    settings.ALLOWED_HOSTS = [".example.com", "backup.example.com"]
    handler.answers[:] = [503]

    assert run.web_is_up(bind) is False
    assert run.web_is_up(bind) is True
    assert handler.hosts == ["example.com", "example.com"]  # a name ALLOWED_HOSTS accepts
    assert run.web_is_up(f"127.0.0.1:{free_port()}") is False  # nothing listens


def test_readiness_waits_for_health_and_for_each_celery_process(health_server, tmp_path):
    bind, handler = health_server
    handler.answers[:] = [503]
    specs = [
        run.ChildSpec("web", _py(""), ready="http"),
        run.ChildSpec("worker-a", _py(""), ready="celery"),
        run.ChildSpec("plain", _py("")),
    ]
    procs = {spec.name: subprocess.Popen(list(spec.argv)) for spec in specs}
    for proc in procs.values():
        proc.wait()
    readiness = run.Readiness(tmp_path, bind)

    assert readiness.pending(specs, procs) == ["web", "worker-a"]
    assert readiness.pending(specs, procs) == ["worker-a"]
    (tmp_path / str(procs["worker-a"].pid)).touch()  # what dataguardian.celery writes
    assert readiness.pending(specs, procs) == []


def _summary(target: str = "all") -> str:
    out = io.StringIO()
    command = run.Command(stdout=out)
    command._summary(run.child_specs(target), "SQLite")
    return out.getvalue()


def test_the_summary_says_where_the_ui_is_and_where_the_password_is_never_what(admin_settings):
    admin_settings.PUBLIC_URL = "http://127.0.0.1:8123"
    admin_settings.EMBEDDED = True
    admin_settings.CELERY_BROKER_URL = "filesystem://localhost//"
    admin_settings.LOG_FORMAT = "text"
    admin_password_file().write_text("Generated-Secret-9\n")

    text = _summary()

    assert text.count("DataGuardian is ready.") == 1
    assert "http://127.0.0.1:8123/admin/" in text
    assert "boss" in text
    assert str(admin_password_file()) in text
    assert "Generated-Secret-9" not in text
    assert "embedded (SQLite + file broker)" in text
    assert str(admin_settings.DATA_DIR) in text
    assert "Ctrl-C stops everything." in text


def test_the_summary_names_the_variable_when_the_password_was_given(admin_settings):
    admin_settings.ADMIN_PASSWORD = "Given-Secret-4"
    admin_settings.EMBEDDED = False
    admin_settings.LOG_FORMAT = "text"
    admin_settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"

    text = _summary()

    assert "password from DATAGUARDIAN_ADMIN_PASSWORD" in text
    assert "Given-Secret-4" not in text
    assert "server (SQLite + Redis)" in text
    assert str(admin_settings.DATA_DIR) not in text  # only the embedded mode lives there
    admin_settings.ADMIN_PASSWORD = None
    assert "with the password set for it earlier" in _summary()
    assert "Web UI" not in _summary("worker")


def test_with_json_logs_the_summary_is_one_log_line(admin_settings, caplog):
    caplog.set_level(logging.INFO, logger="dataguardian.run")
    admin_settings.LOG_FORMAT = "json"

    assert _summary() == ""
    [line] = [r.getMessage() for r in caplog.records if "is ready" in r.getMessage()]
    assert "Web UI: " in line
    assert "Log in as: boss" in line


def test_on_ready_is_called_once_when_every_child_has_reported(caplog):
    caplog.set_level(logging.INFO, logger="dataguardian.run")
    report = (
        "import os, pathlib, time;"
        f"pathlib.Path(os.environ[{READY_DIR_ENV!r}], str(os.getpid())).touch(); time.sleep(60)"
    )
    specs = [
        run.ChildSpec("a", _py(report), ready="celery"),
        run.ChildSpec("b", _py(f"import time; time.sleep(0.5); {report}"), ready="celery"),
    ]
    calls: list[float] = []
    timer = threading.Timer(3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        run.Command()._supervise(specs, on_ready=lambda: calls.append(time.monotonic()))
    finally:
        timer.cancel()

    assert len(calls) == 1
    assert not any(r.levelname == "WARNING" for r in caplog.records)


def test_a_child_that_never_reports_is_named_once_its_time_is_up(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="dataguardian.run")
    monkeypatch.setattr(run, "READY_TIMEOUT", 0.5)
    specs = [run.ChildSpec("silent", _py("import time; time.sleep(60)"), ready="celery")]
    calls: list[None] = []
    timer = threading.Timer(2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        run.Command()._supervise(specs, on_ready=lambda: calls.append(None))
    finally:
        timer.cancel()

    assert calls == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["not up after 0 s: silent; still waiting"]


# --- a real embedded boot ------------------------------------------------------------------


def _embedded_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of an embedded start (no database or Redis URL) on ``port``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("DATABASE_URL_FILE", None)
    env.pop("REDIS_URL_FILE", None)
    env.update(
        DATAGUARDIAN_DATA_DIR=str(data_dir),
        DATAGUARDIAN_BIND=f"127.0.0.1:{port}",
        DATAGUARDIAN_WEB_WORKERS="1",
        DJANGO_SETTINGS_MODULE="dataguardian.settings",
        **extra,
    )
    return env


def _start_run(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``manage.py run``, its output (stdout and stderr) in ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so the finally can kill it whole
        )


@pytest.mark.slow
def test_embedded_default_boots_serves_health_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = _embedded_env(data_dir, port, DATAGUARDIAN_ADMIN_PASSWORD=ADMIN_TEST_PASSWORD)
    log_path = tmp_path / "run.log"
    seen: dict[int, int] = {}  # every descendant ever observed: pid -> start time
    proc = _start_run(env, log_path)

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        body, boot_seconds = wait_for_health(proc, port, seen, output, timeout=60)
        assert body["mode"] == "embedded"
        assert body["database"]["status"] == "up"
        assert body["broker"]["status"] == "up"

        db_file = data_dir / "dataguardian.sqlite3"
        assert db_file.is_file()
        assert (data_dir / "broker").is_dir()
        with contextlib.closing(sqlite3.connect(db_file)) as db:
            rows = db.execute(
                "SELECT is_superuser FROM auth_user WHERE username = ?", ("admin",)
            ).fetchall()
        assert rows == [(1,)]
        assert not (data_dir / "admin_password").exists()  # the password was given

        # Workers need a moment after gunicorn answers; wait until every child is up and the
        # Celery processes said they are ready, so the stop below is a steady-state stop.
        deadline = time.monotonic() + 30
        while True:
            children = child_pids(proc.pid)
            commands = {pid: cmdline(pid) for pid in children}
            kinds = [
                "web" if "gunicorn" in cmd else cmd[cmd.index("-A") + 2]
                for cmd in commands.values()
                if cmd
            ]
            ready = READY.findall(output())
            if (
                sorted(kinds) == ["beat", "web", "worker", "worker"] and len(ready) >= 3
            ) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(ready) >= 3, output()
        assert sorted(kinds) == ["beat", "web", "worker", "worker"], commands
        queues = {
            q
            for cmd in commands.values()
            if "worker" in cmd and "-Q" in cmd
            for q in cmd[cmd.index("-Q") + 1].split(",")
        }
        assert queues == set(QUEUES)
        tree = descendant_pids(proc.pid)
        remember(seen, tree)
        for pid in [proc.pid, *tree]:
            assert ADMIN_TEST_PASSWORD not in "\0".join(cmdline(pid))
        rss_mib = sum(rss_kib(pid) for pid in [proc.pid, *tree]) / 1024
        print(
            f"boot to first 200 on /health: {boot_seconds:.1f} s; "
            f"{len(tree) + 1} processes, RSS sum {rss_mib:.0f} MiB"
        )

        summary_by = time.monotonic() + 30
        while SUMMARY not in output() and time.monotonic() < summary_by:
            time.sleep(0.5)
        assert output().count(SUMMARY) == 1, output()
        assert "admin (password from DATAGUARDIAN_ADMIN_PASSWORD)" in output()

        stop_started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=40)
        stop_seconds = time.monotonic() - stop_started
        print(f"stopped in {stop_seconds:.1f} s")
        if stop_seconds > 10:  # within the contract, but say who was slow
            print("\n".join(line for line in output().splitlines() if "dataguardian.run" in line))

        assert code == 0, output()
        assert [pid for pid, started in seen.items() if alive(pid, started)] == []
        log_text = output()
        for pid in children:
            assert f"(pid {pid})" in log_text  # "started <name> (pid N)"
        assert ADMIN_TEST_PASSWORD not in log_text
    finally:
        if proc.poll() is None:
            remember(seen, descendant_pids(proc.pid))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_survivors(seen)


# What a healthy start must not print. As root, Celery rightly warns that its workers run as
# root; only that warning is let through, and only for root.
ALARMING = re.compile(r"WARNING|Warning|ERROR|Traceback|No hostname was supplied")
ROOT_WARNING = "SecurityWarning: You're running the worker with superuser privileges"
TEXT_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) +[\w.]+: ")


@pytest.mark.slow
def test_a_newcomers_embedded_start_reads_well_and_says_once_where_everything_is(
    tmp_path: Path,
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = _embedded_env(data_dir, port)
    for name in ("DATAGUARDIAN_ADMIN_PASSWORD", "DATAGUARDIAN_ADMIN_PASSWORD_FILE", "LOG_FORMAT"):
        env.pop(name, None)  # the defaults: a generated password, the default log format
    env.pop("DEBUG", None)
    log_path = tmp_path / "run.log"
    seen: dict[int, int] = {}
    proc = _start_run(env, log_path)

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + 90
        while SUMMARY not in output():
            assert proc.poll() is None, f"run exited early ({proc.returncode}):\n{output()}"
            assert time.monotonic() < deadline, f"no summary within 90 s:\n{output()}"
            remember(seen, descendant_pids(proc.pid))
            time.sleep(0.5)
        remember(seen, descendant_pids(proc.pid))
        assert get_json(f"http://127.0.0.1:{port}/health")[0] == 200  # it was ready
        assert len(READY.findall(output())) >= 3  # both workers and beat, before the summary
        time.sleep(2)  # anything printed right after the summary counts too

        text = output()
        print(text)
        password_file = data_dir / "admin_password"
        password = password_file.read_text().strip()
        summary = text[text.index(SUMMARY) :]
        assert text.count(SUMMARY) == 1
        assert f"http://127.0.0.1:{port}/admin/" in summary
        assert f"admin (its generated password is in {password_file})" in summary
        assert f"Data:       {data_dir}" in summary
        assert "embedded (SQLite + file broker)" in summary
        assert "Ctrl-C stops everything." in summary
        assert password not in text
        lines = text.splitlines()
        alarming = [
            line
            for line in lines
            if ALARMING.search(line) and not (os.geteuid() == 0 and ROOT_WARNING in line)
        ]
        assert alarming == [], text
        assert not [line for line in lines if line.lstrip().startswith("{")], text  # no JSON
        logged = [line for line in lines if TEXT_LOG_LINE.match(line)]
        assert any("dataguardian.run: started web (pid" in line for line in logged), text
        assert any('gunicorn.access: 127.0.0.1 "GET /health' in line for line in logged), text
        assert any(re.search(r"celery\.apps\.worker: backups@\S+ ready\.", x) for x in logged)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0, output()
        assert output().count(SUMMARY) == 1
    finally:
        if proc.poll() is None:
            remember(seen, descendant_pids(proc.pid))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_survivors(seen)
