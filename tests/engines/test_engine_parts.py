"""Every registered engine provides each part docs/DEVELOPMENT.md ("Adding an engine") lists.

No database or server is needed: the parts are declarations and overridden methods, the
engine's test file, its section of docs/ENGINES.md and its recipe in docs/RESTORE.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rest_framework import serializers

from core.registry import ConfigSchema
from core.system_settings import SPECS
from datasources.engines import ENGINES, assembled_schema
from datasources.engines.base import DatabaseConnectionSchema, Engine

REPO = Path(__file__).resolve().parents[2]
ENGINE_NAMES = ENGINES.names()
#: The methods an engine must implement itself: the base class only raises.
METHODS = ("backup", "restore", "check_health", "scratch")


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> type[Engine]:
    return ENGINES.get(request.param)


def test_an_engine_names_and_labels_its_type(engine):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", engine.name)
    assert engine.label.strip()
    assert issubclass(engine.config_schema, ConfigSchema)
    assert engine.secret_fields <= set(engine.config_schema._declared_fields)


@pytest.mark.parametrize("method", METHODS)
def test_an_engine_implements_each_method_itself(engine, method):
    assert getattr(engine, method) is not getattr(Engine, method), (
        f"{engine.name} does not implement {method}"
    )


def test_an_engine_declares_its_options_with_labels(engine):
    for schema in (engine.options_schema, engine.restore_options_schema):
        assert issubclass(schema, ConfigSchema)
    for key, field in engine.options_schema._declared_fields.items():
        assert field.label, f"{engine.name} backup option {key} has no label for the job form"
        assert field.help_text, f"{engine.name} backup option {key} has no help text"
    assert set(engine.admin_restore_options) <= engine.restore_options()
    assert engine.replace_option is None or engine.replace_option in engine.restore_options()


def test_an_engines_restore_target_is_a_database_or_a_declared_path(engine):
    if engine.path_field is None:
        assert engine.is_database, f"{engine.name} restores into neither a database nor a path"
        return
    field = engine.config_schema._declared_fields.get(engine.path_field)
    assert field is not None, f"{engine.name}.path_field is not a connection field"
    assert engine.path_label.strip()
    restored = engine().with_target_path({}, "/restore/here")
    assert restored == {engine.path_field: "/restore/here"}


def test_a_database_engine_has_a_default_port_applied_once(engine):
    if not engine.is_database:
        return
    assert issubclass(engine.config_schema, DatabaseConnectionSchema)
    assert engine.config_schema.default_port > 0
    parsed = engine.config_schema.parse({"host": "h", "database": "d", "username": "u"})
    assert parsed.port == engine.config_schema.default_port
    validated = engine.validate_config({"host": "h", "database": "d", "username": "u"})
    assert validated["port"] == engine.config_schema.default_port


def test_an_engine_names_its_artifact_format(engine):
    assert re.fullmatch(r"[a-z0-9]+", engine().artifact_extension({}))


def test_an_engine_names_the_package_of_each_tool_it_runs(engine):
    for tool in engine.tools:
        assert tool.names
        assert all(re.fullmatch(r"[\w.-]+", name) for name in tool.names)
        assert tool.package.strip()
        assert tool.package in tool.missing_message()


def test_an_engines_verification_server_setting_exists(engine):
    if engine.scratch_server_setting is not None:
        assert engine.scratch_server_setting in SPECS


def test_an_engine_has_its_own_test_file(engine):
    assert (REPO / "tests" / "engines" / f"test_{engine.name}_engine.py").is_file()


def test_an_engine_has_a_section_in_the_engines_page(engine):
    text = (REPO / "docs" / "ENGINES.md").read_text()
    heading = f"## {engine.label} (`{engine.name}`)"
    assert heading in text, f"docs/ENGINES.md has no section {heading!r}"
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    for part in ("**Connection**", "**Backup**", "**Verification**", "**By hand**"):
        assert part in section, f"the {engine.label} section of docs/ENGINES.md lacks {part}"


def test_an_engine_has_a_manual_restore_recipe(engine):
    text = (REPO / "docs" / "RESTORE.md").read_text()
    assert re.search(rf"<!-- restore:{engine.name}(-[\w-]+)? -->\s*```sh\n", text), (
        f"docs/RESTORE.md has no recipe marked restore:{engine.name}"
    )


def test_the_assembled_schemas_hold_every_engines_options():
    backup = assembled_schema("BackupOptionsSchema", "options_schema")
    restore = assembled_schema("RestoreOptionsSerializer", "restore_options_schema")
    for name in ENGINE_NAMES:
        engine = ENGINES.get(name)
        assert engine.backup_options() <= set(backup._declared_fields)
        assert engine.restore_options() <= set(restore._declared_fields)


def test_two_engines_declaring_one_option_differently_fail_the_assembly(monkeypatch):
    class Clash(ConfigSchema):
        include_tables = serializers.BooleanField(required=False, label="x", help_text="x")

    postgres = ENGINES.get("postgres")
    monkeypatch.setattr(ENGINES.get("mysql"), "options_schema", Clash)
    assembled_schema.cache_clear()
    try:
        with pytest.raises(TypeError, match="include_tables"):
            assembled_schema("BackupOptionsSchema", "options_schema")
    finally:
        monkeypatch.undo()
        assembled_schema.cache_clear()
    assert postgres.options_schema is not Clash
