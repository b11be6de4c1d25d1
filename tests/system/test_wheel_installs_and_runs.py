"""The wheel, installed into a fresh venv with only the runtime lock, runs outside the checkout.

Nothing is downloaded: the wheel is built with the dev venv's setuptools (no build isolation)
and the runtime lock's wheels come from ``data/wheelhouse``, which ``make wheelhouse`` fills
(CI does so before ``make test``). ``dataguardian run`` then starts in an empty directory with
no DATABASE_URL/REDIS_URL and HOME and XDG_DATA_HOME in the test's temporary directory, so the
embedded mode keeps its data in the per-user location.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.support.processes import (
    READY,
    alive,
    child_pids,
    cmdline,
    descendant_pids,
    free_port,
    kill_survivors,
    remember,
    wait_for_health,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = REPO / "requirements.lock"
WHEELHOUSE = REPO / "data" / "wheelhouse"
HOW_TO_FILL = (
    "run `make wheelhouse` (it downloads the wheels of requirements.lock from PyPI into "
    "data/wheelhouse; .ci/run does it before `make test`)"
)
# No index, no build isolation: everything the build needs is in the dev venv already.
BUILD_OPTIONS = ("--no-deps", "--no-build-isolation", "--no-index")
SHOW_TEMPLATE_ORIGIN = (
    "from django.template.loader import get_template; "
    "print(get_template('admin/index.html').origin.name)"
)
PACKAGES = {"core", "dataguardian", "datasources", "storage", "jobs", "executions", "notifications"}
# Left out of the copy the wheel is built from: local state and earlier build output.
NOT_SOURCE = {".git", ".venv", "data", "build", "dist", ".mypy_cache", ".ruff_cache"}
# Settings and tools whose values in the test environment must not reach the installed copy.
SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "DATAGUARDIAN_",
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "PYTHON",
    "VIRTUAL_ENV",
    "PIP_",
    "XDG_",
    "HOME",
)


def _copy_ignore(directory: str, names: list[str]) -> set[str]:
    top = Path(directory).resolve() == REPO
    return {
        n
        for n in names
        if (top and n in NOT_SOURCE)
        or n in {"__pycache__", ".pytest_cache"}
        or n.endswith(".egg-info")
    }


def _pip_env() -> dict[str, str]:
    """The environment for pip: no configuration file, index or find-links of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(
    argv: Sequence[str | Path], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http, loopback)
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


@pytest.fixture
def timings() -> Iterator[dict[str, float]]:
    found: dict[str, float] = {}
    started = time.monotonic()
    yield found
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in found.items())
    print(f"wheel test: {phases}; total {time.monotonic() - started:.1f} s")


def _build_wheel(tmp_path: Path) -> Path:
    assert int(version("setuptools").split(".")[0]) >= 77, (
        "the dev venv lacks the build backend (setuptools>=77): `make install` installs "
        "requirements-dev.lock"
    )
    source, dist = tmp_path / "source", tmp_path / "dist"
    shutil.copytree(REPO, source, ignore=_copy_ignore, symlinks=True)
    built = _run(
        [sys.executable, "-m", "pip", "wheel", *BUILD_OPTIONS, ".", "-w", dist],
        cwd=source,
        env=_pip_env(),
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list(dist.glob("dataguardian-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _check_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == PACKAGES, "the wheel holds more or fewer than the apps (tests? bench?)"
    assert "dataguardian/templates/admin/index.html" in names
    assert "dataguardian/templates/admin/config_type_select.html" in names
    assert "executions/migrations/0001_initial.py" in names
    assert "dataguardian = dataguardian.cli:main" in scripts


def _install(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    created = _run([sys.executable, "-m", "venv", venv])
    assert created.returncode == 0, created.stderr
    pip = (venv / "bin" / "python", "-m", "pip")
    offline = ("--no-index", "--find-links", WHEELHOUSE)
    deps = _run([*pip, "install", *offline, "--require-hashes", "-r", RUNTIME_LOCK], env=_pip_env())
    assert deps.returncode == 0, (
        f"{deps.stdout}{deps.stderr}\nIs data/wheelhouse stale? {HOW_TO_FILL}"
    )
    app = _run([*pip, "install", "--no-index", "--no-deps", wheel], env=_pip_env())
    assert app.returncode == 0, app.stdout + app.stderr
    check = _run([*pip, "check"], env=_pip_env())
    assert check.returncode == 0, f"the runtime lock does not satisfy the wheel:\n{check.stdout}"
    return venv


def test_the_wheel_installs_from_the_runtime_lock_and_runs_outside_the_checkout(
    tmp_path: Path, timings: dict[str, float]
) -> None:
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail(f"{WHEELHOUSE} holds no wheels: {HOW_TO_FILL}", pytrace=False)
    started = time.monotonic()
    wheel = _build_wheel(tmp_path)
    _check_wheel_contents(wheel)
    timings["build"] = time.monotonic() - started

    started = time.monotonic()
    venv = _install(tmp_path, wheel)
    timings["install"] = time.monotonic() - started

    work, home, xdg_data = tmp_path / "work", tmp_path / "home", tmp_path / "xdg-data"
    for directory in (work, home, xdg_data):
        directory.mkdir()
    data_dir = xdg_data / "dataguardian"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        HOME=str(home),
        XDG_DATA_HOME=str(xdg_data),
        DATAGUARDIAN_BIND=f"127.0.0.1:{port}",
        DATAGUARDIAN_WEB_WORKERS="1",
    )
    imported = _run(
        [venv / "bin" / "python", "-c", "import dataguardian; print(dataguardian.__file__)"],
        cwd=work,
        env=env,
    )
    assert imported.stdout.startswith(str(venv)), imported.stdout + imported.stderr

    log_path = tmp_path / "run.log"
    seen: dict[int, int] = {}  # every descendant ever observed: pid -> start time
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "dataguardian"), "run"],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        body, timings["boot to /health"] = wait_for_health(proc, port, seen, output, timeout=90)
        assert body["mode"] == "embedded"

        status, page = _get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200, output()
        assert 'id="login-form"' in page
        assert "DataGuardian" in page
        status, _ = _get(f"http://127.0.0.1:{port}/static/admin/css/base.css")
        assert status == 200, "the admin's static files are not served"

        # The workers and beat import the installed package too; stop once they are up.
        deadline = time.monotonic() + 60
        while len(READY.findall(output())) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, f"run exited ({proc.returncode}):\n{output()}"
            remember(seen, descendant_pids(proc.pid))
            time.sleep(0.5)
        assert len(READY.findall(output())) >= 3, output()
        children = child_pids(proc.pid)
        remember(seen, descendant_pids(proc.pid))
        assert len(children) == 4, {pid: cmdline(pid) for pid in children}
        for pid in children:
            assert cmdline(pid)[0].startswith(str(venv)), cmdline(pid)
            assert Path(f"/proc/{pid}/cwd").resolve() == data_dir, "a child runs elsewhere"

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        assert code == 0, output()
        assert [pid for pid, start in seen.items() if alive(pid, start)] == []
    finally:
        if proc.poll() is None:
            remember(seen, descendant_pids(proc.pid))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_survivors(seen)

    for name in ("dataguardian.sqlite3", "secret_key", "encryption.key", "admin_password"):
        assert (data_dir / name).is_file(), f"{name} is not in {data_dir}"
    assert (data_dir / "static" / "admin").is_dir()
    assert str(data_dir / "admin_password") in output()
    assert list(work.iterdir()) == [], "run wrote into its working directory"

    # The dashboard (the admin's index) is the installed package's, found before the theme's.
    origin = _run(
        [venv / "bin" / "dataguardian", "shell", "--no-imports", "-c", SHOW_TEMPLATE_ORIGIN],
        cwd=work,
        env=env,
    )
    assert origin.returncode == 0, origin.stderr
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    assert origin.stdout.strip() == str(
        site_packages / "dataguardian" / "templates" / "admin" / "index.html"
    )
