"""Every admin page answers a superuser and sends everybody else to the login page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from datasources.engines import ENGINES
from notifications.channels import CHANNELS
from notifications.models import Delivery, Notification, NotificationChannel
from storage.adapters import ADAPTERS

MODELS = [
    "datasources.datasource",
    "datasources.healthcheck",
    "storage.storagelocation",
    "jobs.backupjob",
    "executions.backupexecution",
    "executions.backupchunk",
    "notifications.notification",
    "notifications.notificationchannel",
    "notifications.delivery",
    "core.systemsetting",
]
ADDABLE = [
    "datasources.datasource",
    "storage.storagelocation",
    "jobs.backupjob",
    "notifications.notification",
    "notifications.notificationchannel",
    "core.systemsetting",
]
READ_ONLY = sorted(set(MODELS) - set(ADDABLE))


def url(model: str, view: str, *args: object) -> str:
    app_label, model_name = model.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_answers_a_superuser(admin_client, execution, model):
    assert admin_client.get(url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", ADDABLE)
def test_every_add_page_answers_a_superuser(admin_client, model):
    assert admin_client.get(url(model, "add")).status_code == 200


@pytest.mark.parametrize("model", READ_ONLY)
def test_read_only_records_have_no_add_page(admin_client, model):
    assert admin_client.get(url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("view", ["changelist", "add"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, db, model, view):
    response = client.get(url(model, view))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_change_pages_of_every_kind_of_object_answer_a_superuser(admin_client, execution):
    notification = Notification.objects.create(
        type="backup_failed",
        severity="critical",
        entity_type="backup_execution",
        entity_id=execution.pk,
        title="Backup failed",
    )
    channel = NotificationChannel.objects.create(
        name="hook",
        type="webhook",
        config={"url": "http://127.0.0.1:9/", "secret": "", "headers": ""},
    )
    delivery = Delivery.objects.create(
        notification=notification, channel=channel, status="failed", error="refused"
    )
    objects = {
        "notifications.notificationchannel": channel,
        "notifications.delivery": delivery,
        "datasources.datasource": execution.datasource,
        "storage.storagelocation": execution.storage_location,
        "jobs.backupjob": execution.job,
        "executions.backupexecution": execution,
        "notifications.notification": notification,
    }
    for model, obj in objects.items():
        assert admin_client.get(url(model, "change", obj.pk)).status_code == 200, model


@pytest.mark.parametrize(
    ("model", "config_type"),
    [("datasources.datasource", name) for name in ENGINES.names()]
    + [("storage.storagelocation", name) for name in ADAPTERS.names()]
    + [("notifications.notificationchannel", name) for name in CHANNELS.names()],
)
def test_the_add_page_of_every_type_answers_a_superuser(admin_client, model, config_type):
    response = admin_client.get(url(model, "add"), {"type": config_type})
    assert response.status_code == 200
    assert 'name="config_' in response.content.decode()
