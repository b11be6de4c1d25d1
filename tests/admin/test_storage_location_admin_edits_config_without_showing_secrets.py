"""The storage location admin edits the per-type config and never shows a secret."""

from __future__ import annotations

from django.urls import reverse

from storage.models import StorageLocation
from tests.support.admin import STORAGE_SECRET

ADD = reverse("admin:storage_storagelocation_add")


def change_url(location: StorageLocation) -> str:
    return reverse("admin:storage_storagelocation_change", args=[location.pk])


def test_adding_an_s3_location_stores_its_config_and_secret(admin_client, db):
    response = admin_client.post(
        f"{ADD}?type=s3",
        {
            "name": "archive",
            # The bucket is made up; this test is about the settings, not the connection.
            "save_anyway": "on",
            "config_bucket": "dg-archive",
            "config_region": "eu-west-1",
            "config_access_key_id": "AKIANEW",
            "config_secret_access_key": "wJalr-Secret",
            "config_storage_class": "STANDARD_IA",
            "config_endpoint": "",
            "config_prefix": "",
        },
    )
    assert response.status_code == 302, response.content.decode()
    location = StorageLocation.objects.get(name="archive")
    assert location.type == "s3"
    assert location.config["secret_access_key"] == "wJalr-Secret"
    assert location.config["bucket"] == "dg-archive"
    assert location.config["storage_class"] == "STANDARD_IA"


def test_a_missing_secret_on_add_is_a_form_error(admin_client, db):
    response = admin_client.post(
        f"{ADD}?type=s3",
        {
            "name": "archive",
            "config_bucket": "dg-archive",
            "config_region": "eu-west-1",
            "config_access_key_id": "AKIANEW",
        },
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not StorageLocation.objects.exists()


def test_the_change_page_and_changelist_never_contain_the_secret(admin_client, s3_location):
    change = admin_client.get(change_url(s3_location)).content.decode()
    assert STORAGE_SECRET not in change
    assert "dg-backups" in change
    changelist = admin_client.get(reverse("admin:storage_storagelocation_changelist"))
    assert STORAGE_SECRET not in changelist.content.decode()


def test_leaving_the_secret_blank_keeps_the_stored_one(admin_client, s3_location):
    response = admin_client.post(
        change_url(s3_location),
        {
            "name": "offsite",
            "save_anyway": "on",
            "config_bucket": "dg-backups-2",
            "config_region": "eu-central-1",
            "config_access_key_id": "AKIAEXAMPLE",
            "config_secret_access_key": "",
        },
    )
    assert response.status_code == 302, response.content.decode()
    s3_location.refresh_from_db()
    assert s3_location.config["bucket"] == "dg-backups-2"
    assert s3_location.config["secret_access_key"] == STORAGE_SECRET


def test_a_schema_error_shows_on_its_field(admin_client, db):
    response = admin_client.post(
        f"{ADD}?type=local", {"name": "disk", "config_path": "relative/dir"}
    )
    assert response.status_code == 200
    assert "Give an absolute path." in response.content.decode()
