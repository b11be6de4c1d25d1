"""The admin pages the browser tests visit: the dashboard, every registered model's changelist,
the add pages an operator starts from, and a change page of each kind of object the
``seeded`` fixture makes. A page is named for its screenshot file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.urls import reverse


@dataclass(frozen=True)
class AdminPage:
    name: str
    #: The path, or for a change page "<seeded key>" whose object's id completes it.
    path: str
    seeded: str = ""

    def url(self, seeded: dict[str, dict[str, Any]] | None = None) -> str:
        if not self.seeded:
            return self.path
        assert seeded is not None
        return self.path.replace("<id>", str(seeded[self.seeded]["id"]))


def _changelists() -> list[AdminPage]:
    pages = []
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        pages.append(AdminPage(f"{opts.app_label}-{opts.model_name}-changelist", url))
    return sorted(pages, key=lambda page: page.name)


def _change(name: str, url_name: str, seeded: str) -> AdminPage:
    path = reverse(url_name, args=["00000000-0000-0000-0000-000000000000"])
    return AdminPage(name, path.replace("00000000-0000-0000-0000-000000000000", "<id>"), seeded)


DASHBOARD = AdminPage("dashboard", reverse("admin:index"))
ADD_PAGES = [
    AdminPage("datasource-add-type", reverse("admin:datasources_datasource_add")),
    AdminPage(
        "datasource-add-postgres", reverse("admin:datasources_datasource_add") + "?type=postgres"
    ),
    AdminPage("storage-add-type", reverse("admin:storage_storagelocation_add")),
    AdminPage("storage-add-local", reverse("admin:storage_storagelocation_add") + "?type=local"),
    AdminPage("job-add", reverse("admin:jobs_backupjob_add")),
]
CHANGE_PAGES = [
    _change("datasource-change", "admin:datasources_datasource_change", "datasource"),
    _change("storage-change", "admin:storage_storagelocation_change", "storage"),
    _change("job-change", "admin:jobs_backupjob_change", "job"),
    _change("execution-change", "admin:executions_backupexecution_change", "execution"),
]
ALL_PAGES = [DASHBOARD, *_changelists(), *ADD_PAGES, *CHANGE_PAGES]

#: The pages an operator opens every day, which must fit a phone's width.
MAIN_PAGES = [
    DASHBOARD,
    *(
        page
        for page in ALL_PAGES
        if page.name
        in {
            "datasources-datasource-changelist",
            "storage-storagelocation-changelist",
            "jobs-backupjob-changelist",
            "executions-backupexecution-changelist",
            "notifications-notification-changelist",
        }
    ),
]

#: Screenshot name -> the name of its copy in docs/images/ (the user guide's tour).
DOCS_IMAGES = {
    "dashboard": "dashboard",
    "datasource-add-type": "datasource-type",
    "datasource-add-postgres": "datasource-postgres",
    "job-change": "job",
    "executions-backupexecution-changelist": "executions",
}
