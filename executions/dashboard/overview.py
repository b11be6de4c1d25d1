"""The dashboard's headline, counts and short lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.safestring import SafeString

from core.display import human_size, zoned_time
from datasources.models import Datasource
from executions.dashboard.links import change, changelist
from executions.dashboard.recoverability import RecoverabilityPanel, recoverability_panel
from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.models import StorageLocation

#: How many rows the short lists (next runs, latest failures) show.
LIST_LIMIT = 10
#: Characters of an error message shown in the latest failures; the page has the rest.
ERROR_CHARS = 160
#: A storage location this full (percent of its capacity) is a warning…
WARNING_PERCENT = 85
#: …and this full, critical.
CRITICAL_PERCENT = 95
#: ``available_space_gb`` and ``max_size_gb`` count binary gigabytes.
BYTES_PER_GB = 1024**3

Status = BackupExecution.Status
#: Where the recoverability troubles link to: the dashboard's own panel, which lists them.
RECOVERABILITY_URL = "#recoverability"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


# --- headline ------------------------------------------------------------------------------


#: The troubles that are warnings, below failures and unreachable sources.
WARNING_KINDS = frozenset({"stale", "rpo_target_missed", "rto_target_missed", "overdue"})


@dataclass(frozen=True)
class Trouble:
    """One kind of trouble the headline names, with the list of what it counts."""

    kind: str  # "failing", "unreachable", then the warnings of WARNING_KINDS
    count: int
    text: str
    url: str


@dataclass(frozen=True)
class Headline:
    """The state of the installation in words: the troubles, worst first, or "All good"."""

    troubles: list[Trouble]

    @property
    def ok(self) -> bool:
        return not self.troubles

    @property
    def level(self) -> str:
        if not self.troubles:
            return "healthy"
        return "warning" if self.troubles[0].kind in WARNING_KINDS else "critical"

    @property
    def text(self) -> str:
        return ", ".join(t.text for t in self.troubles) or "All good"


def headline(recoverability: RecoverabilityPanel | None = None) -> Headline:
    """Enabled jobs whose last backups failed (``failure_streak`` > 0), enabled datasources
    that are unreachable (``critical``: several health checks failed in a row), enabled jobs
    whose backups are stale (``stale_since`` set), then those missing their RPO or RTO target
    or overdue for a restore test (``recoverability``, worked out when not given). Two
    queries, and two more without ``recoverability``."""
    panel = recoverability or recoverability_panel(timezone.now())
    jobs = BackupJob.objects.filter(enabled=True).aggregate(
        failing=Count("pk", filter=Q(failure_streak__gt=0)),
        stale=Count("pk", filter=Q(stale_since__isnull=False)),
    )
    unreachable = Datasource.objects.filter(enabled=True, status=Datasource.Status.CRITICAL).count()
    candidates = [
        Trouble(
            "failing",
            jobs["failing"],
            f"{_plural(jobs['failing'], 'job', 'jobs')} failing",
            changelist("jobs.backupjob", enabled__exact=True, failure_streak__gt=0),
        ),
        Trouble(
            "unreachable",
            unreachable,
            f"{_plural(unreachable, 'source', 'sources')} unreachable",
            changelist(
                "datasources.datasource",
                enabled__exact=True,
                status__exact=Datasource.Status.CRITICAL,
            ),
        ),
        Trouble(
            "stale",
            jobs["stale"],
            f"{_plural(jobs['stale'], 'backup', 'backups')} stale",
            changelist("jobs.backupjob", enabled__exact=True, stale_since__isnull=False),
        ),
        Trouble(
            "rpo_target_missed",
            panel.rpo_target_missed,
            f"{_plural(panel.rpo_target_missed, 'RPO target', 'RPO targets')} missed",
            RECOVERABILITY_URL,
        ),
        Trouble(
            "rto_target_missed",
            panel.rto_target_missed,
            f"{_plural(panel.rto_target_missed, 'RTO target', 'RTO targets')} missed",
            RECOVERABILITY_URL,
        ),
        Trouble(
            "overdue",
            panel.verification_overdue,
            f"{_plural(panel.verification_overdue, 'verification', 'verifications')} overdue",
            RECOVERABILITY_URL,
        ),
    ]
    return Headline([t for t in candidates if t.count])


# --- executions of the last 24 hours --------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int
    url: str


def executions_last_24h(now: datetime) -> list[StatusCount]:
    """Executions (backups and restores) created in the 24 hours before ``now``, per status,
    every status listed (zeros too). One query."""
    since = (now - timedelta(hours=24)).replace(second=0, microsecond=0)
    counts = dict(
        BackupExecution.objects.filter(created_at__gte=since)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return [
        StatusCount(
            value,
            str(label),
            counts.get(value, 0),
            changelist("executions.backupexecution", status__exact=value, created_at__gte=since),
        )
        for value, label in Status.choices
    ]


# --- next runs and latest failures -----------------------------------------------------------


@dataclass(frozen=True)
class NextRun:
    """A job's next run, in the job's zone and in the viewer's (``TIME_ZONE``)."""

    job: BackupJob
    in_job_zone: SafeString
    in_viewer_zone: SafeString
    url: str


def next_runs(limit: int = LIST_LIMIT) -> list[NextRun]:
    """The enabled jobs that run next, soonest first. One query."""
    jobs = (
        BackupJob.objects.filter(enabled=True, next_execution_at__isnull=False)
        .select_related("datasource")
        .only(
            "name",
            "schedule_cron",
            "schedule_timezone",
            "enabled",
            "next_execution_at",
            "datasource__name",
        )
        .order_by("next_execution_at")[:limit]
    )
    return [
        NextRun(
            job,
            zoned_time(job.next_execution_at, job.schedule_timezone),
            zoned_time(job.next_execution_at, settings.TIME_ZONE),
            change("jobs.backupjob", job.pk),
        )
        for job in jobs
    ]


@dataclass(frozen=True)
class Failure:
    execution: BackupExecution
    error: str
    when: SafeString
    url: str


def latest_failures(limit: int = LIST_LIMIT) -> list[Failure]:
    """The most recent failed executions with their error message, cut to ``ERROR_CHARS``.
    One query."""
    rows = (
        BackupExecution.objects.filter(status=Status.FAILED)
        .select_related("job")
        .only(
            "kind",
            "status",
            "created_at",
            "finished_at",
            "error_message",
            "job__name",
            "job__schedule_timezone",
        )
        .order_by("-created_at")[:limit]
    )
    failures = []
    for execution in rows:
        message = " ".join((execution.error_message or "").split())
        if len(message) > ERROR_CHARS:
            message = message[: ERROR_CHARS - 1] + "…"
        failures.append(
            Failure(
                execution,
                message,
                zoned_time(
                    execution.finished_at or execution.created_at,
                    execution.job.schedule_timezone,
                ),
                change("executions.backupexecution", execution.pk),
            )
        )
    return failures


# --- storage usage --------------------------------------------------------------------------


def usage_level(percent: float | None) -> str:
    """``unknown`` without a capacity, ``critical`` from ``CRITICAL_PERCENT``, ``warning``
    from ``WARNING_PERCENT``, ``healthy`` below."""
    if percent is None:
        return "unknown"
    if percent >= CRITICAL_PERCENT:
        return "critical"
    if percent >= WARNING_PERCENT:
        return "warning"
    return "healthy"


@dataclass(frozen=True)
class LocationUsage:
    """What DataGuardian stores in a location against the room it has there."""

    location: StorageLocation
    used_bytes: int
    capacity_bytes: int | None
    url: str

    @property
    def percent(self) -> float | None:
        if not self.capacity_bytes:
            return None
        return min(100.0, 100.0 * self.used_bytes / self.capacity_bytes)

    @property
    def level(self) -> str:
        return usage_level(self.percent)

    @property
    def bar_percent(self) -> int:
        return round(self.percent or 0)

    @property
    def used_label(self) -> str:
        return human_size(self.used_bytes)

    @property
    def capacity_label(self) -> str:
        return human_size(self.capacity_bytes)

    @property
    def percent_label(self) -> str:
        percent = self.percent
        return "" if percent is None else f"{percent:.0f} %"


def _capacity(location: StorageLocation, used: int) -> int | None:
    """The location's ``max_size_gb`` quota when it has one; otherwise what is stored plus
    the space still available (as its health check measures capacity); None for a location
    whose free space is unknown (object stores, a server without statvfs)."""
    quota = (location.config or {}).get("max_size_gb")
    if quota:
        return int(float(quota) * BYTES_PER_GB)
    available: Decimal | None = location.available_space_gb
    if available is None:
        return None
    return used + int(available * BYTES_PER_GB)


def storage_usage() -> list[LocationUsage]:
    """Every storage location with the compressed size of its completed backups and its
    capacity. Two queries: the sums grouped on the executions table alone, which is far
    cheaper than grouping a join by every column of the locations."""
    used = dict(
        BackupExecution.objects.filter(status=Status.COMPLETED, kind=BackupExecution.Kind.BACKUP)
        .order_by()
        .values_list("storage_location_id")
        .annotate(total=Sum("compressed_size_bytes"))
        .values_list("storage_location_id", "total")
    )
    usages = []
    for location in StorageLocation.objects.order_by("name"):
        stored = int(used.get(location.pk) or 0)
        usages.append(
            LocationUsage(
                location,
                stored,
                _capacity(location, stored),
                changelist(
                    "executions.backupexecution",
                    storage_location__id__exact=location.pk,
                    status__exact=Status.COMPLETED,
                ),
            )
        )
    return usages
