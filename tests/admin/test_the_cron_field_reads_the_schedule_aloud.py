"""Under the cron field: its human reading, the next five runs in the job's zone and presets."""

from __future__ import annotations

import re

from django.urls import reverse

from tests import factories

PREVIEW = reverse("admin:jobs_backupjob_schedule_preview")


def test_the_change_page_reads_the_cron_and_lists_five_runs_in_the_jobs_zone(admin_client, db):
    job = factories.BackupJobFactory.create(
        schedule_cron="0 3 * * *", schedule_timezone="Europe/Berlin"
    )
    html = admin_client.get(reverse("admin:jobs_backupjob_change", args=[job.pk])).content.decode()
    description = re.search(r'<p id="cron-description"[^>]*>(.*?)</p>', html)
    assert description is not None
    assert description.group(1) == "At 03:00"
    runs = re.search(r'<ol id="cron-next-runs"[^>]*>(.*?)</ol>', html, re.S)
    assert runs is not None
    items = re.findall(r"<li>(.*?)</li>", runs.group(1))
    assert len(items) == 5
    assert all(re.search(r"03:00 CES?T</time>", item) for item in items), items


def test_the_presets_are_buttons_that_name_their_schedule(admin_client, db):
    html = admin_client.get(reverse("admin:jobs_backupjob_add")).content.decode()
    for preset, cron in [
        ("hourly", "0 * * * *"),
        ("daily", "0 3 * * *"),
        ("weekly", "0 3 * * 0"),
        ("monthly", "0 3 1 * *"),
    ]:
        assert f'<button type="button" data-cron-preset="{preset}" data-cron="{cron}"' in html
    # The script that makes the buttons fill the field and the preview follow the input.
    assert "/static/jobs/job_form.js" in html


def test_the_preview_endpoint_answers_for_what_is_typed(admin_client, db):
    data = admin_client.get(PREVIEW, {"cron": "30 2 * * 1", "tz": "America/New_York"}).json()
    assert data["description"] == "At 02:30, only on Monday"
    assert len(data["next_runs"]) == 5
    assert all("02:30 E" in run for run in data["next_runs"])
    assert data["error"] == ""


def test_the_preview_endpoint_says_when_the_expression_is_not_cron(admin_client, db):
    data = admin_client.get(PREVIEW, {"cron": "every night", "tz": "UTC"}).json()
    assert data["description"] == ""
    assert data["next_runs"] == []
    assert data["error"]


def test_the_preview_endpoint_is_for_staff_only(client, db):
    response = client.get(PREVIEW, {"cron": "0 3 * * *", "tz": "UTC"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
