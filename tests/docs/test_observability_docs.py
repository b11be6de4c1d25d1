"""docs/OBSERVABILITY.md stays true: its YAML blocks are a Prometheus scrape config and rules
file, and they and the Grafana dashboard it links query only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataguardian import metrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC = DOCS / "OBSERVABILITY.md"
GRAFANA = DOCS / "grafana" / "dataguardian.json"
METRIC = re.compile(r"\bdataguardian_[a-z_]+\b")


def known_names() -> frozenset[str]:
    return metrics.NAMES


def yaml_blocks() -> list[Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert blocks, "docs/OBSERVABILITY.md has no YAML block"
    return [yaml.safe_load(block) for block in blocks]


def scrape_configs() -> list[dict[str, Any]]:
    return [
        c for block in yaml_blocks() if "scrape_configs" in block for c in block["scrape_configs"]
    ]


def rules() -> list[dict[str, Any]]:
    groups = [g for block in yaml_blocks() if "groups" in block for g in block["groups"]]
    assert groups, "docs/OBSERVABILITY.md has no rules file"
    return [rule for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GRAFANA.read_text())
    return data


def test_every_yaml_block_is_a_scrape_config_or_a_rules_file():
    for block in yaml_blocks():
        assert isinstance(block, dict)
        assert set(block) in ({"scrape_configs"}, {"groups"}), sorted(block)


def test_the_scrape_configs_read_metrics_with_a_token_file_or_basic_auth():
    configs = scrape_configs()
    assert {c["metrics_path"] for c in configs} == {"/metrics"}
    bearer = [c["authorization"] for c in configs if "authorization" in c]
    assert bearer == [{"type": "Bearer", "credentials_file": bearer[0]["credentials_file"]}]
    basic = [c["basic_auth"] for c in configs if "basic_auth" in c]
    assert basic
    assert {"username", "password_file"} <= set(basic[0])
    for config in configs:
        assert config["static_configs"][0]["targets"]


def test_the_rules_file_has_the_three_alerts():
    found = rules()
    assert len(found) == 3
    for rule in found:
        assert {"alert", "expr", "for"} <= set(rule), rule
        assert re.fullmatch(r"\d+[smh]", rule["for"])
    exprs = " ".join(" ".join(rule["expr"].split()) for rule in found)
    assert (
        "time() - dataguardian_job_last_success_timestamp_seconds "
        "> 2 * dataguardian_job_expected_rpo_seconds" in exprs
    )
    assert "dataguardian_job_enabled == 1" in exprs
    assert "dataguardian_job_verification_overdue == 1" in exprs
    assert (
        "dataguardian_storage_used_bytes / (dataguardian_storage_used_bytes "
        "+ dataguardian_storage_available_bytes) > 0.9" in exprs
    )


def test_the_rules_query_only_metrics_that_exist():
    used = {name for rule in rules() for name in METRIC.findall(rule["expr"])}
    assert used
    assert used <= known_names(), sorted(used - known_names())


def test_the_grafana_dashboard_is_importable(dashboard):
    assert dashboard["uid"]
    assert dashboard["title"]
    inputs = dashboard["__inputs"]
    assert [i["pluginId"] for i in inputs if i["type"] == "datasource"] == ["prometheus"]
    name = inputs[0]["name"]
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["title"], panel
        assert panel["targets"], panel
        assert panel["datasource"]["uid"] == f"${{{name}}}"
        assert all(target["expr"] for target in panel["targets"])
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert "job" in variables


def test_the_grafana_dashboard_queries_only_metrics_that_exist(dashboard):
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"]]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used <= known_names(), sorted(used - known_names())


def test_the_page_links_the_dashboard_and_is_linked_from_the_readme():
    assert "(grafana/dataguardian.json)" in DOC.read_text()
    readme = (DOCS.parent / "README.md").read_text()
    assert "(docs/OBSERVABILITY.md)" in readme
