"""The samples of a /metrics body, parsed with prometheus-client's own text parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, its labels) -> value of every sample in ``text``."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``; None when absent."""
    wanted = set(labels.items())
    found = [value for (n, have), value in samples(text).items() if n == name and wanted <= have]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None
