"""The package: what the wheel holds, the ``dataguardian`` command, and where data goes by default
(a checkout keeps ``./data``, an installed package the per-user XDG location)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from dataguardian import locations
from dataguardian.management.commands import run
from tests.support.processes import run_python

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _checkout(root: Path) -> Path:
    (root / "manage.py").write_text("")
    (root / "pyproject.toml").write_text("")
    return root


# --- where the data goes -------------------------------------------------------------------


def test_a_source_checkout_keeps_its_data_beside_the_code(tmp_path):
    root = _checkout(tmp_path)

    assert locations.source_checkout(root) == root
    assert locations.default_data_dir(root, {"XDG_DATA_HOME": "/elsewhere"}) == root / "data"


@pytest.mark.parametrize("missing", ["manage.py", "pyproject.toml"])
def test_without_manage_py_and_pyproject_beside_the_code_it_is_an_installed_package(
    tmp_path, missing
):
    root = _checkout(tmp_path)
    (root / missing).unlink()

    assert locations.source_checkout(root) is None


def test_an_installed_package_keeps_its_data_in_xdg_data_home(tmp_path):
    environ = {"XDG_DATA_HOME": "/srv/xdg", "HOME": "/home/someone"}

    assert locations.default_data_dir(tmp_path, environ) == Path("/srv/xdg/dataguardian")


@pytest.mark.parametrize("xdg", [None, "", "relative/dir"])
def test_an_unset_empty_or_relative_xdg_data_home_means_the_home_share_folder(tmp_path, xdg):
    environ = {"HOME": "/home/someone"}
    if xdg is not None:
        environ["XDG_DATA_HOME"] = xdg

    assert locations.default_data_dir(tmp_path, environ) == Path(
        "/home/someone/.local/share/dataguardian"
    )


def test_this_checkout_is_recognised_as_one():
    assert locations.source_checkout() == REPO
    assert locations.default_data_dir() == REPO / "data"


def _data_dir_setting(**env: str) -> str:
    # Reading the settings writes nothing (no django.setup(), so no data directory is made).
    probe = "from django.conf import settings; print(settings.DATA_DIR)"
    result = run_python(probe, drop=("DATAGUARDIAN_DATA_DIR",), env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_settings_default_is_the_checkout_data_dir_and_the_variable_overrides_it(tmp_path):
    assert _data_dir_setting() == str(REPO / "data")
    assert _data_dir_setting(DATAGUARDIAN_DATA_DIR=str(tmp_path)) == str(tmp_path)


def test_run_starts_children_in_the_checkout_or_else_in_the_data_dir(settings, monkeypatch):
    settings.DATA_DIR = Path("/var/lib/dataguardian")
    assert run.child_cwd() == REPO  # `python -m` then imports the checkout's code

    monkeypatch.setattr(run, "source_checkout", lambda: None)
    assert run.child_cwd() == Path("/var/lib/dataguardian")  # never site-packages


# --- the command ---------------------------------------------------------------------------


def test_the_dataguardian_command_is_django_s_with_the_project_settings():
    # In a fresh interpreter: django.setup() in this one would point logging at a captured stream.
    program = "from dataguardian.cli import main; main(['dataguardian', 'help', '--commands'])"
    result = run_python(program, drop=("DJANGO_SETTINGS_MODULE",), preset_settings=False)

    assert result.returncode == 0, result.stderr
    commands = set(result.stdout.split())
    assert {"run", "backup", "restore", "verify", "cleanup", "healthcheck", "migrate"} <= commands
    assert {"createsuperuser", "rotate_encryption_key"} <= commands


def test_the_console_script_points_at_the_cli():
    assert PYPROJECT["project"]["scripts"] == {"dataguardian": "dataguardian.cli:main"}


# --- what the wheel holds ------------------------------------------------------------------


def _local_apps() -> set[str]:
    return {app.split(".")[0] for app in django_settings.INSTALLED_APPS if (REPO / app).is_dir()}


def test_the_wheel_packages_are_the_apps_and_nothing_else():
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    top_level = {pattern.rstrip("*") for pattern in include}

    assert all(pattern.endswith("*") for pattern in include)  # subpackages and migrations too
    assert top_level == _local_apps()
    assert top_level == set(PYPROJECT["tool"]["importlinter"]["root_packages"])
    assert not {"tests", "bench", "docker", "docs"} & top_level


def test_every_file_of_the_apps_that_is_not_python_is_package_data():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["*"]
    data_files = [
        path
        for app in _local_apps()
        for path in (REPO / app).rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    ]

    assert data_files, "the admin templates should be among them"
    for path in data_files:
        package_dir = next(p for p in path.parents if (p / "__init__.py").is_file())
        assert any(path in package_dir.glob(pattern) for pattern in patterns), path


def test_the_build_backend_is_setuptools_and_the_dev_lock_pins_it():
    build = PYPROJECT["build-system"]
    assert build["build-backend"] == "setuptools.build_meta"
    assert any(r.startswith("setuptools") for r in build["requires"])
    dev_extra = PYPROJECT["project"]["optional-dependencies"]["dev"]
    assert any(r.startswith("setuptools") for r in dev_extra)
    dev_lock = (REPO / "requirements-dev.lock").read_text()
    assert "\nsetuptools==" in dev_lock
    assert "\nsetuptools==" not in (REPO / "requirements.lock").read_text()
