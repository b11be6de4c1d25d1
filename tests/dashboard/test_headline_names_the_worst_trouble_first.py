"""The headline says "All good", or names the troubles worst first, each a link to its list."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from executions.dashboard import headline
from tests import factories


def test_a_healthy_installation_is_all_good(db):
    factories.BackupJobFactory.create()
    assert headline().text == "All good"
    assert headline().level == "healthy"


def test_a_job_whose_last_backups_failed_is_failing(db):
    factories.BackupJobFactory.create(failure_streak=2)
    factories.BackupJobFactory.create()
    assert headline().text == "1 job failing"
    assert headline().level == "critical"


def test_a_critical_datasource_is_unreachable(db):
    factories.DatasourceFactory.create(status="critical")
    factories.DatasourceFactory.create(status="critical")
    factories.DatasourceFactory.create(status="warning")
    assert headline().text == "2 sources unreachable"


def test_a_job_with_stale_since_set_has_a_stale_backup(db):
    factories.BackupJobFactory.create(stale_since=timezone.now() - timedelta(hours=1))
    assert headline().text == "1 backup stale"
    assert headline().level == "warning"


def test_troubles_are_listed_worst_first(db):
    factories.BackupJobFactory.create(stale_since=timezone.now())
    factories.DatasourceFactory.create(status="critical")
    factories.BackupJobFactory.create(failure_streak=1)
    factories.BackupJobFactory.create(failure_streak=3)
    assert headline().text == "2 jobs failing, 1 source unreachable, 1 backup stale"


def test_disabled_jobs_and_datasources_are_no_trouble(db):
    factories.BackupJobFactory.create(enabled=False, failure_streak=4, stale_since=timezone.now())
    factories.DatasourceFactory.create(enabled=False, status="critical")
    assert headline().ok


def test_each_trouble_links_to_the_list_of_what_it_counts(admin_client):
    failing = factories.BackupJobFactory.create(name="nightly orders", failure_streak=1)
    stale = factories.BackupJobFactory.create(name="hourly logs", stale_since=timezone.now())
    factories.BackupJobFactory.create(name="quiet one")
    down = factories.DatasourceFactory.create(name="crm db", status="critical")
    factories.DatasourceFactory.create(name="fine db", status="healthy")
    links = {t.kind: t.url for t in headline().troubles}

    failing_page = admin_client.get(links["failing"]).content.decode()
    stale_page = admin_client.get(links["stale"]).content.decode()
    down_page = admin_client.get(links["unreachable"]).content.decode()

    assert failing.name in failing_page
    assert "quiet one" not in failing_page
    assert stale.name in stale_page
    assert failing.name not in stale_page
    assert down.name in down_page
    assert "fine db" not in down_page


def test_the_dashboard_shows_the_headline(admin_client):
    factories.BackupJobFactory.create(failure_streak=1)
    page = admin_client.get("/admin/").content.decode()
    assert 'id="dashboard-headline"' in page
    assert "1 job failing" in page
