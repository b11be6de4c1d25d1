"""The Prometheus ``/metrics`` endpoint: jobs, datasources, storage locations, queues and
executions, read from the database at every scrape (docs/OBSERVABILITY.md, "Metrics").

A scrape costs the same few queries however many jobs, datasources, locations and executions
there are: one for the jobs (their record fields, kept by the runs), one for the datasources
with their latest health check, one for the locations, one for the executions' totals (the
tally on PostgreSQL, ``executions.tally``: a million executions are not counted at each
scrape), and the restore-test setting. Labels are ids and names of
jobs, datasources, locations and queues, never of executions, so their number stays bounded.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from base64 import b64decode
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.core import GaugeMetricFamily, Metric, StateSetMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from datasources.models import Datasource, HealthCheck
from executions import recoverability, tally
from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.models import StorageLocation

logger = logging.getLogger(__name__)

BYTES_PER_GB = 1024**3
JOB_LABELS = ("job_id", "job", "datasource")
DATASOURCE_LABELS = ("datasource_id", "datasource", "type")
LOCATION_LABELS = ("location_id", "location", "type")

#: name (after ``dataguardian_job_``) -> help text, in the order they are exposed.
JOB_METRICS = {
    "enabled": "1 when the job is enabled.",
    "last_success_timestamp_seconds": "When the newest completed backup finished (Unix time).",
    "last_attempt_timestamp_seconds": "When the newest finished backup attempt ended (Unix time).",
    "last_attempt_success": "1 when the newest finished backup attempt completed, 0 otherwise.",
    "last_backup_duration_seconds": "How long the newest completed backup ran.",
    "last_backup_size_bytes": "Stored (compressed) size of the newest completed backup.",
    "consecutive_failures": "Backup attempts that failed in a row since the last success.",
    "last_verification_timestamp_seconds": "When the latest verification finished (Unix time).",
    "last_verification_success": "1 when the latest verification passed, 0 when it failed.",
    "restore_duration_seconds": "Restore time the latest verification measured (RTO).",
    "restore_size_bytes": "Size of the backup the latest measured restore restored.",
    "rpo_seconds": "Seconds since the newest completed backup (RPO now).",
    "verified_rpo_seconds": "Seconds since the newest backup whose verification passed.",
    "expected_rpo_seconds": "The schedule's interval: the RPO the schedule promises.",
    "verification_overdue": "1 when the newest backup went unverified past its window.",
    "rpo_target_missed": "1 when the job's RPO target is missed.",
    "rto_target_missed": "1 when the job's last measured restore exceeded its RTO target.",
}


#: Every family a scrape can expose (the queue depth only while the broker answers).
NAMES = frozenset(
    {f"dataguardian_job_{name}" for name in JOB_METRICS}
    | {
        "dataguardian_datasource_up",
        "dataguardian_datasource_status",
        "dataguardian_datasource_health_latency_seconds",
        "dataguardian_storage_used_bytes",
        "dataguardian_storage_available_bytes",
        "dataguardian_storage_status",
        "dataguardian_executions",
        "dataguardian_broker_up",
        "dataguardian_queue_depth",
    }
)


class JobRow(NamedTuple):
    """A job as the metrics read it: a plain row (``JOB_COLUMNS``), lighter than a model
    instance at thousands of jobs, with the attributes ``recoverability.JobRecord`` names."""

    id: Any
    name: str
    datasource: str
    enabled: bool
    schedule_cron: str
    schedule_timezone: str
    created_at: datetime
    rpo_target_minutes: int | None
    rto_target_minutes: int | None
    restore_test_every_days: int | None
    last_attempt_at: datetime | None
    last_attempt_status: str
    last_completed_at: datetime | None
    last_completed_id: Any
    last_completed_seconds: int | None
    last_completed_bytes: int | None
    failure_streak: int
    verified_backup_id: Any
    verified_backup_at: datetime | None
    verified_at: datetime | None
    last_verification_at: datetime | None
    last_verification_status: str
    last_restore_seconds: float | None
    last_restore_bytes: int | None


#: The ``values_list`` columns of a ``JobRow``, in its order.
JOB_COLUMNS = tuple("datasource__name" if f == "datasource" else f for f in JobRow._fields)


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def _text(value: float | int | None) -> str | None:
    return None if value is None else str(value)


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else str(moment.timestamp())


def _age(moment: datetime | None, now: datetime) -> str | None:
    return None if moment is None else str((now - moment).total_seconds())


def job_values(
    job: JobRow, now: datetime, default_days: int, expected_rpo: float | None
) -> tuple[str | None, ...]:
    """The job metrics of ``job`` as they are written, in the order of ``JOB_METRICS`` (None
    for a value it has none of yet); ``expected_rpo`` is its schedule's interval from now.
    ``str`` writes a number as the shortest text that reads back as the same number; a flag
    is written ``1`` or ``0``."""
    window = recoverability.restore_test_window(job, default_days)
    attempted, verification = job.last_attempt_status, job.last_verification_status
    return (
        "1" if job.enabled else "0",
        _stamp(job.last_completed_at),
        _stamp(job.last_attempt_at),
        ("1" if attempted == BackupExecution.Status.COMPLETED else "0") if attempted else None,
        _text(job.last_completed_seconds),
        _text(job.last_completed_bytes),
        str(job.failure_streak),
        _stamp(job.last_verification_at),
        ("1" if verification == "passed" else "0") if verification else None,
        _text(job.last_restore_seconds),
        _text(job.last_restore_bytes),
        _age(job.last_completed_at, now),
        _age(job.verified_backup_at, now),
        _text(expected_rpo),
        "1" if recoverability.verification_overdue(job, window, now) else "0",
        "1" if recoverability.rpo_target_missed(job, now) else "0",
        "1" if recoverability.rto_target_missed(job) else "0",
    )


def job_rows() -> Iterator[tuple[Any, ...]]:
    """Every job's ``JOB_COLUMNS``, by name, one row at a time: a scrape keeps no row once
    it has written it, so 10,000 jobs do not leave 10,000 tuples for the garbage collector to
    walk again and again.

    On PostgreSQL the rows are read with psycopg's own timestamptz loader: Django replaces it
    with one in Python (to attach the connection's time zone, UTC, which psycopg's attaches
    too), and at 10,000 jobs that loader alone would cost more than the rest of the query."""
    jobs = BackupJob.objects.order_by("name").values_list(*JOB_COLUMNS)
    if connection.vendor != "postgresql":
        yield from jobs.iterator()
        return
    from psycopg.types.datetime import TimestamptzLoader

    sql, params = jobs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        yield from cursor.cursor


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def job_exposition(now: datetime) -> str:
    """The job families in the text format, written directly: at thousands of jobs they are
    almost every sample of a scrape, and building a ``Sample`` for each through
    prometheus-client's families would cost most of the scrape's time."""
    from core import system_settings

    days = int(system_settings.get("verification.restore_test_every_days"))
    names = [f"dataguardian_job_{name}" for name in JOB_METRICS]
    lines: list[list[str]] = [[] for _ in names]
    # Jobs share a few schedules: each one's interval is worked out once per scrape.
    expected: dict[tuple[str, str], float | None] = {}
    for job in map(JobRow._make, job_rows()):
        labels = (
            f'{{job_id="{job.id}",job="{_escape(job.name)}",'
            f'datasource="{_escape(job.datasource)}"}} '
        )
        schedule = job.schedule_cron, job.schedule_timezone
        if schedule not in expected:
            expected[schedule] = recoverability.expected_rpo_seconds(*schedule, now)
        values = job_values(job, now, days, expected[schedule])
        for family, name, value in zip(lines, names, values, strict=True):
            if value is not None:
                family.append(f"{name}{labels}{value}\n")
    parts = []
    for name, text, family in zip(names, JOB_METRICS.values(), lines, strict=True):
        parts.append(f"# HELP {name} {text}\n# TYPE {name} gauge\n")
        parts.extend(family)
    return "".join(parts)


def datasource_metrics() -> list[Metric]:
    up = GaugeMetricFamily(
        "dataguardian_datasource_up", "1 when the datasource is healthy.", labels=DATASOURCE_LABELS
    )
    status = StateSetMetricFamily(
        "dataguardian_datasource_status",
        "The datasource's health status.",
        labels=DATASOURCE_LABELS,
    )
    latency = GaugeMetricFamily(
        "dataguardian_datasource_health_latency_seconds",
        "Latency of the datasource's latest health check.",
        labels=DATASOURCE_LABELS,
    )
    latest = HealthCheck.objects.filter(datasource=OuterRef("pk")).order_by("-checked_at")
    datasources = (
        Datasource.objects.annotate(latency_ms=Subquery(latest.values("latency_ms")[:1]))
        .order_by("name")
        .values_list("id", "name", "type", "status", "latency_ms")
    )
    states = Datasource.Status.values
    for pk, name, kind, current, latency_ms in datasources:
        labels = [str(pk), name, kind]
        up.add_metric(labels, _flag(current == Datasource.Status.HEALTHY))
        status.add_metric(labels, {state: state == current for state in states})
        if latency_ms is not None:
            latency.add_metric(labels, latency_ms / 1000)
    return [up, status, latency]


def storage_metrics(totals: list[tuple[str, str, Any, int, int]]) -> list[Metric]:
    used = GaugeMetricFamily(
        "dataguardian_storage_used_bytes",
        "Compressed size of the completed backups stored in the location.",
        labels=LOCATION_LABELS,
    )
    available = GaugeMetricFamily(
        "dataguardian_storage_available_bytes",
        "Space still available in the location, as its latest health check measured it.",
        labels=LOCATION_LABELS,
    )
    status = StateSetMetricFamily(
        "dataguardian_storage_status", "The location's health status.", labels=LOCATION_LABELS
    )
    stored: dict[Any, int] = {}
    for kind, state, location, _count, size in totals:
        if kind == BackupExecution.Kind.BACKUP and state == BackupExecution.Status.COMPLETED:
            stored[location] = size
    locations = StorageLocation.objects.order_by("name").values_list(
        "id", "name", "type", "status", "available_space_gb"
    )
    states = StorageLocation.Status.values
    for pk, name, kind, current, space_gb in locations:
        labels = [str(pk), name, kind]
        used.add_metric(labels, float(stored.get(pk) or 0))
        if space_gb is not None:
            available.add_metric(labels, float(space_gb * BYTES_PER_GB))
        status.add_metric(labels, {state: state == current for state in states})
    return [used, available, status]


def execution_metrics(totals: list[tuple[str, str, Any, int, int]]) -> list[Metric]:
    family = GaugeMetricFamily(
        "dataguardian_executions",
        "Execution rows by kind and status.",
        labels=("kind", "status"),
    )
    counts: dict[tuple[str, str], int] = {}
    for kind, state, _location, count, _size in totals:
        counts[kind, state] = counts.get((kind, state), 0) + count
    for kind in BackupExecution.Kind.values:
        for status in BackupExecution.Status.values:
            family.add_metric([kind, status], float(counts.get((kind, status), 0)))
    return [family]


def queue_depths() -> dict[str, int] | None:
    """Messages waiting in each queue of ``core.queues``, or None when the broker does not
    answer.

    The transport's own count is used: with Redis and priority steps a queue is several lists
    (``backups``, ``backups:1`` … with the ``sep`` of the broker's transport options), which
    kombu's ``_size`` sums; the file-system broker counts the queue's message files. kombu's
    passive ``queue_declare`` would give the same count but refuses a Redis queue that is empty
    (it has no list then)."""
    from core.queues import QUEUES
    from dataguardian.celery import app

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel: Any = conn.default_channel
            return {name: int(channel._size(name)) for name in QUEUES}
    except Exception as exc:  # any failure means "down"; the type says enough
        logger.warning("The broker did not answer the metrics scrape: %s", type(exc).__name__)
        return None


def broker_metrics() -> list[Metric]:
    depths = queue_depths()
    up = GaugeMetricFamily("dataguardian_broker_up", "1 when the Celery broker answered.")
    up.add_metric([], _flag(depths is not None))
    if depths is None:
        return [up]
    depth = GaugeMetricFamily(
        "dataguardian_queue_depth", "Messages waiting in the Celery queue.", labels=("queue",)
    )
    for name, count in depths.items():
        depth.add_metric([name], float(count))
    return [up, depth]


class DataGuardianCollector(Collector):
    """The metric families other than the jobs', gathered afresh at each ``collect``."""

    def collect(self) -> Iterator[Metric]:
        totals = tally.totals()
        yield from datasource_metrics()
        yield from storage_metrics(totals)
        yield from execution_metrics(totals)
        yield from broker_metrics()


def exposition() -> bytes:
    """The metrics in Prometheus's text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DataGuardianCollector())
    return job_exposition(timezone.now()).encode() + generate_latest(registry)


# --- The view ------------------------------------------------------------------------------

LOOPBACK = ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _bearer_ok(header: str) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and _same(given.strip(), token)


def _basic_ok(header: str) -> bool:
    expected = settings.METRICS_BASIC_AUTH
    scheme, _, encoded = header.partition(" ")
    if not expected or scheme.lower() != "basic":
        return False
    try:
        given = b64decode(encoded.strip(), validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return False
    return _same(given, expected)


def _from_loopback(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in LOOPBACK)


def refusal(request: HttpRequest) -> str | None:
    """Why ``request`` may not read the metrics, or None when it may."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header and (_bearer_ok(header) or _basic_ok(header)):
        return None
    if settings.METRICS_ALLOW_LOOPBACK and _from_loopback(request):
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return None
    if header:
        return "The credentials given are not accepted for /metrics."
    if not (settings.METRICS_TOKEN or settings.METRICS_BASIC_AUTH):
        return (
            "/metrics is not configured: set METRICS_TOKEN, METRICS_BASIC_AUTH "
            "or METRICS_ALLOW_LOOPBACK."
        )
    return "/metrics needs a bearer token or basic authentication."


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus scrape target; refused (403, one plain line) unless the request brings
    the configured token or basic credentials, comes from loopback when that is allowed, or
    is a logged-in staff session."""
    reason = refusal(request)
    if reason is not None:
        return HttpResponse(reason + "\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
