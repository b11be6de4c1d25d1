"""Settings come from the environment; bad values fail at start with a clear message.

Settings are module-level, so each case imports them in a fresh interpreter.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.support.processes import run_python

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'],"
    " 'name': str(s.DATABASES['default']['NAME']),"
    " 'init': s.DATABASES['default'].get('OPTIONS', {}).get('init_command', ''),"
    " 'transaction_mode': s.DATABASES['default'].get('OPTIONS', {}).get('transaction_mode'),"
    " 'broker': s.CELERY_BROKER_URL, 'embedded': s.EMBEDDED, 'debug': s.DEBUG,"
    " 'hosts': s.ALLOWED_HOSTS, 'secret_key': s.SECRET_KEY, 'keys': s.ENCRYPTION_KEYS,"
    " 'log_format': s.LOG_FORMAT,"
    " 'visibility': s.CELERY_BROKER_TRANSPORT_OPTIONS.get('visibility_timeout')}))"
)


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        PROBE,
        drop=("DATABASE_URL", "REDIS_URL", "DATAGUARDIAN_", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"),
        env={"DATAGUARDIAN_DATA_DIR": str(tmp_path / "data"), **env},
    )


def _ok(tmp_path: Path, **env: str) -> dict[str, Any]:
    result = _settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_with_no_database_or_redis_url_it_runs_embedded_on_sqlite_wal_and_a_file_broker(tmp_path):
    s = _ok(tmp_path)
    assert s["embedded"] is True
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(tmp_path / "data" / "dataguardian.sqlite3")
    assert "journal_mode=WAL" in s["init"]
    assert s["broker"] == "filesystem://localhost//"
    assert (tmp_path / "data" / "broker" / "queue").is_dir()


def test_a_sqlite_database_url_gets_the_embedded_modes_wal_and_lock_options(tmp_path):
    s = _ok(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/meta.sqlite3")
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == f"{tmp_path}/meta.sqlite3"
    assert "journal_mode=WAL" in s["init"]
    assert s["transaction_mode"] == "IMMEDIATE"


# Connects the way /health and /api/health do (the worker ping goes through kombu's connection
# pool, which is where a URL without a host is warned about), then sends a task.
BROKER_PROBE = (
    "import django; django.setup();"
    "from dataguardian import views; from dataguardian.api import system;"
    "from dataguardian.celery import app;"
    "print(views._check_broker()['status'], system._timed(system._broker)['status'],"
    " system._timed(system._workers)['error']);"
    "app.send_task('probe', queue='scheduler')"
)


def test_the_embedded_broker_keeps_its_messages_in_the_data_directory_and_warns_nothing(
    tmp_path,
):
    result = run_python(
        BROKER_PROBE,
        drop=("DATABASE_URL", "REDIS_URL", "DATAGUARDIAN_", "LOG_"),
        env={"DATAGUARDIAN_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["up", "up", "LookupError"]  # no worker runs
    assert "No hostname was supplied" not in result.stdout + result.stderr
    assert list((tmp_path / "data" / "broker" / "queue").iterdir())


def test_the_log_format_is_text_for_a_newcomer_and_json_for_a_server(tmp_path):
    assert _ok(tmp_path)["log_format"] == "text"
    server = {"DATABASE_URL": "postgres://u:p@db.example:5432/dg", "REDIS_URL": "redis://r:6379/0"}
    assert _ok(tmp_path, **server)["log_format"] == "json"
    assert _ok(tmp_path, DEBUG="true", **server)["log_format"] == "text"
    assert _ok(tmp_path, LOG_FORMAT="json")["log_format"] == "json"
    assert _ok(tmp_path, LOG_FORMAT="text", **server)["log_format"] == "text"


def test_the_embedded_default_generates_private_key_files_once(tmp_path):
    first = _ok(tmp_path)
    key_file = tmp_path / "data" / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode) == 0o600
    assert first["keys"] == [key_file.read_text().strip()]
    assert first["keys"] != [first["secret_key"]]
    assert _ok(tmp_path)["keys"] == first["keys"]


def test_database_and_redis_urls_select_postgresql_and_redis(tmp_path):
    s = _ok(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.example:5432/dg",
        REDIS_URL="redis://127.0.0.1:6379/3",
        DATAGUARDIAN_BACKUP_TIME_LIMIT="7200",
    )
    assert s["embedded"] is False
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["broker"] == "redis://127.0.0.1:6379/3"
    assert s["visibility"] > 7200


def test_secrets_can_come_from_files(tmp_path):
    (tmp_path / "sk").write_text("from-a-file\n")
    key = Fernet.generate_key().decode()
    (tmp_path / "keys").write_text(key)
    s = _ok(
        tmp_path,
        SECRET_KEY_FILE=str(tmp_path / "sk"),
        DATAGUARDIAN_ENCRYPTION_KEYS_FILE=str(tmp_path / "keys"),
    )
    assert s["secret_key"] == "from-a-file"
    assert s["keys"] == [key]


def test_several_encryption_keys_are_read_in_order(tmp_path):
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    assert _ok(tmp_path, DATAGUARDIAN_ENCRYPTION_KEYS=",".join(keys))["keys"] == keys


def test_debug_and_allowed_hosts_are_parsed(tmp_path):
    s = _ok(tmp_path, DEBUG="true", ALLOWED_HOSTS="backup.example.com,10.0.0.5")
    assert s["debug"] is True
    assert s["hosts"] == ["backup.example.com", "10.0.0.5"]
    assert _ok(tmp_path)["debug"] is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATAGUARDIAN_ENCRYPTION_KEYS": "not-a-key"}, "not a Fernet key"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "SECRET_KEY_FILE"),
        ({"DATAGUARDIAN_BACKUP_TIME_LIMIT": "5"}, "DATAGUARDIAN_BACKUP_TIME_LIMIT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_message_naming_it(tmp_path, env, message):
    result = _settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr or "ValueError" in result.stderr
    assert message in result.stderr
