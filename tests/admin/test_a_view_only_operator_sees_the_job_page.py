"""A staff user who may only view jobs gets the job page, read-only, not an error."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse


def test_the_job_page_answers_a_view_only_user(client, backup_job):
    user = get_user_model().objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_backupjob"))
    client.force_login(user)
    response = client.get(reverse("admin:jobs_backupjob_change", args=[backup_job.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert backup_job.name in html
    assert 'name="schedule_cron"' not in html
    preview = client.get(
        reverse("admin:jobs_backupjob_schedule_preview"), {"cron": "0 3 * * *", "tz": "UTC"}
    )
    assert preview.json()["description"] == "At 03:00"
