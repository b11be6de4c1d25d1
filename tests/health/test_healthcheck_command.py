"""``manage.py healthcheck``: one line per datasource and storage location, exit status 1 when
any check is not ok. Datasources are files and SQLite sources on the real file system."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from datasources.models import Datasource, HealthCheck
from storage.models import StorageLocation
from tests.factories import DatasourceFactory, StorageLocationFactory


def _files_source(path: Path, name: str, *, enabled: bool = True) -> Datasource:
    ds: Datasource = DatasourceFactory.create(
        name=name, type="files", connection_config={"source_path": str(path)}, enabled=enabled
    )
    return ds


def _storage(path: Path, name: str) -> StorageLocation:
    location: StorageLocation = StorageLocationFactory.create(name=name, config={"path": str(path)})
    return location


def _run(*args: str) -> str:
    out = StringIO()
    call_command("healthcheck", *args, "--timeout=1", stdout=out)
    return out.getvalue()


def _run_failing(*args: str) -> tuple[str, CommandError]:
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("healthcheck", *args, "--timeout=1", stdout=out)
    return out.getvalue(), excinfo.value


def test_all_checks_ok_print_one_line_each_and_succeed(db, tmp_path):
    _files_source(tmp_path, "documents")
    _storage(tmp_path, "local disk")

    output = _run()

    lines = output.splitlines()
    assert any(line.startswith("datasource  documents  ok  ") for line in lines)
    assert any(line.startswith("storage     local disk  healthy  ") for line in lines)
    assert "All 2 checks are ok." in output


def test_a_failing_datasource_is_printed_with_its_message_and_exits_1(db, tmp_path):
    _files_source(tmp_path / "gone", "documents")

    output, error = _run_failing()

    assert "datasource  documents  unreachable" in output
    assert "does not exist" in output
    assert error.returncode == 1
    assert "1 of 1 checks are not ok" in str(error)


def test_an_unreachable_storage_location_exits_1(db, tmp_path):
    _storage(tmp_path / "gone", "nas")

    output, error = _run_failing("--storage")

    assert "storage     nas  unreachable" in output
    assert error.returncode == 1


def test_the_datasource_option_checks_only_that_datasource_by_name(db, tmp_path):
    wanted = _files_source(tmp_path, "documents")
    other = _files_source(tmp_path, "photos")
    _storage(tmp_path / "gone", "nas")

    output = _run("--datasource", "documents")

    assert HealthCheck.objects.filter(datasource=wanted).count() == 1
    assert not HealthCheck.objects.filter(datasource=other).exists()
    assert "nas" not in output


def test_the_datasource_option_accepts_an_id(db, tmp_path):
    wanted = _files_source(tmp_path, "documents")

    _run("--datasource", str(wanted.pk))

    assert HealthCheck.objects.filter(datasource=wanted).count() == 1


def test_an_unknown_datasource_is_an_error_naming_it(db):
    _, error = _run_failing("--datasource", "nothing-called-this")

    assert "nothing-called-this" in str(error)


def test_the_storage_option_alone_checks_no_datasource(db, tmp_path):
    source = _files_source(tmp_path, "documents")
    _storage(tmp_path, "local disk")

    output = _run("--storage")

    assert "local disk" in output
    assert not HealthCheck.objects.filter(datasource=source).exists()


def test_disabled_datasources_are_not_checked_without_the_datasource_option(db, tmp_path):
    disabled = _files_source(tmp_path / "gone", "archive", enabled=False)

    _run()

    assert not HealthCheck.objects.filter(datasource=disabled).exists()
