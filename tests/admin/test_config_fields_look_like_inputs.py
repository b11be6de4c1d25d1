"""The per-type settings fields wear the theme's input style, so they read as inputs."""

from __future__ import annotations

import re

from django.urls import reverse
from unfold.widgets import INPUT_CLASSES, SELECT_CLASSES


def classes_of(html: str, name: str) -> set[str]:
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', html)
    assert tag is not None, name
    found = re.search(r'class="([^"]*)"', tag.group(0))
    return set(found.group(1).split()) if found else set()


def test_datasource_and_storage_settings_are_styled_inputs(admin_client, db):
    datasource = admin_client.get(
        reverse("admin:datasources_datasource_add"), {"type": "postgres"}
    ).content.decode()
    assert set(INPUT_CLASSES) <= classes_of(datasource, "config_host")
    assert set(INPUT_CLASSES) <= classes_of(datasource, "config_password")
    storage = admin_client.get(
        reverse("admin:storage_storagelocation_add"), {"type": "s3"}
    ).content.decode()
    assert set(SELECT_CLASSES) <= classes_of(storage, "config_storage_class")
