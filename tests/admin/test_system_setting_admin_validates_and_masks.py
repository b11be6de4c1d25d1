"""System settings: known keys only, values validated, the SMTP password masked."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.fields import MASK
from core.models import SystemSetting

SMTP_KEY = "notifications.email_smtp_config"
SMTP_PASSWORD = "smtp-Secret-91"


@pytest.fixture
def smtp_setting(db):
    setting, _ = SystemSetting.objects.update_or_create(
        key=SMTP_KEY,
        defaults={
            "value": {
                "host": "smtp.example.com",
                "port": 587,
                "username": "dg",
                "password": SMTP_PASSWORD,
                "use_tls": True,
                "use_ssl": False,
                "from_email": "dg@example.com",
                "to": ["ops@example.com"],
            }
        },
    )
    return setting


def change_url(key: str) -> str:
    return reverse("admin:core_systemsetting_change", args=[key])


def test_the_smtp_password_is_masked_on_the_change_page_and_changelist(admin_client, smtp_setting):
    change = admin_client.get(change_url(SMTP_KEY)).content.decode()
    assert SMTP_PASSWORD not in change
    assert MASK in change
    changelist = admin_client.get(reverse("admin:core_systemsetting_changelist"))
    assert SMTP_PASSWORD not in changelist.content.decode()


def test_leaving_the_mask_keeps_the_stored_password(admin_client, smtp_setting):
    value = {**smtp_setting.value, "password": MASK, "host": "mail.example.com"}
    response = admin_client.post(
        change_url(SMTP_KEY), {"value": json.dumps(value), "description": "SMTP"}
    )
    assert response.status_code == 302, response.content.decode()
    smtp_setting.refresh_from_db()
    assert smtp_setting.value["host"] == "mail.example.com"
    assert smtp_setting.value["password"] == SMTP_PASSWORD


def test_an_invalid_value_is_a_form_error(admin_client, db):
    SystemSetting.objects.update_or_create(
        key="system.max_concurrent_backups", defaults={"value": 3}
    )
    response = admin_client.post(
        change_url("system.max_concurrent_backups"), {"value": '"abc"', "description": ""}
    )
    assert response.status_code == 200
    assert "A valid integer is required." in response.content.decode()
    assert SystemSetting.objects.get(key="system.max_concurrent_backups").value == 3


def test_only_known_keys_can_be_added(admin_client, db):
    SystemSetting.objects.filter(key="system.max_concurrent_backups").delete()
    known = set(SystemSetting.objects.values_list("key", flat=True))
    url = reverse("admin:core_systemsetting_add")
    response = admin_client.post(url, {"key": "made.up", "value": "1", "description": ""})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert set(SystemSetting.objects.values_list("key", flat=True)) == known
    response = admin_client.post(
        url, {"key": "system.max_concurrent_backups", "value": "5", "description": ""}
    )
    assert response.status_code == 302
    setting = SystemSetting.objects.get(key="system.max_concurrent_backups")
    assert setting.value == 5
    assert setting.description
