"""The 30-day strip of every enabled job, and its chart of backup size and duration.

Both come from one aggregate query over all the jobs: executions grouped by job, by calendar
day in the job's own time zone (the day an operator in that zone would name) and by status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, DateField, Func, Max
from django.db.models.expressions import Expression

from core.display import human_duration, human_size
from executions.dashboard.links import changelist
from executions.models import BackupExecution
from jobs.models import BackupJob
from jobs.schedule import next_run

#: Days a strip covers, today (in the job's zone) the last of them.
STRIP_DAYS = 30
#: Jobs shown with a strip, those in trouble first; the rest are counted.
STRIP_JOB_LIMIT = 50

Status = BackupExecution.Status

#: What each cell status means, for its tooltip and the legend.
CELL_LABELS = {
    "failure": "Failed",
    "running": "Running",
    "success": "Succeeded",
    "missed": "Missed or skipped",
    "none": "Nothing scheduled",
}


class LocalDate(Func):
    """The calendar date of a timestamp in the time zone named by another expression (a
    column), which a fixed ``TruncDate(tzinfo=…)`` cannot express."""

    output_field = DateField()
    arity = 2

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        moment, zone = self.get_source_expressions()
        clone = self.copy()
        clone.set_source_expressions([zone, moment])
        return clone.as_sql(
            compiler, connection, template="(timezone(%(expressions)s))::date", **extra
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django registers this function on every SQLite connection (zoneinfo in Python);
        # stored times are UTC.
        return self.as_sql(
            compiler,
            connection,
            template="django_datetime_cast_date(%(expressions)s, 'UTC')",
            **extra,
        )


#: The colour of each cell status (the theme's classes, readable on light and dark).
CELL_CLASSES = {
    "failure": "bg-red-600",
    "running": "bg-blue-500",
    "success": "bg-green-600",
    "missed": "bg-orange-400",
    "none": "bg-base-200 dark:bg-base-700",
}
LEGEND = [(CELL_LABELS[status], CELL_CLASSES[status]) for status in CELL_LABELS]


@dataclass(frozen=True)
class DayCell:
    day: date
    status: str  # a key of CELL_LABELS
    title: str
    url: str

    @property
    def css(self) -> str:
        return CELL_CLASSES[self.status]


@dataclass(frozen=True)
class SizeChart:
    """An inline SVG of one job's daily backup size and duration: the polylines' points in
    a ``WIDTH`` by ``HEIGHT`` box, and the words for its title and description."""

    WIDTH = 300
    HEIGHT = 60

    size_points: str
    duration_points: str
    title: str
    description: str
    max_size: str
    max_duration: str
    days: int

    @property
    def empty(self) -> bool:
        return self.days == 0


@dataclass
class JobStrip:
    job: BackupJob
    cells: list[DayCell] = field(default_factory=list)
    chart: SizeChart | None = None


@dataclass
class _Day:
    """The executions of one job on one local day, per status."""

    counts: dict[str, int] = field(default_factory=dict)
    size: int | None = None
    duration: float | None = None


def _day_status(day: _Day | None, scheduled: bool) -> str:
    counts = day.counts if day else {}
    if counts.get(Status.FAILED):
        return "failure"
    if counts.get(Status.RUNNING) or counts.get(Status.QUEUED):
        return "running"
    if counts.get(Status.COMPLETED):
        return "success"
    if counts.get(Status.CANCELLED) or scheduled:
        return "missed"
    return "none"


def _day_title(day: date, status: str, record: _Day | None) -> str:
    counts = record.counts if record else {}
    parts = [f"{n} {Status(s).label.lower()}" for s, n in sorted(counts.items()) if n]
    detail = ", ".join(parts) if parts else "no backup"
    return f"{day.isoformat()}: {CELL_LABELS[status]} ({detail})"


class _Schedule:
    """Whether a job's cron fires on a given local day, memoised per cron and zone: many jobs
    share a schedule, and only days without any execution are asked about."""

    def __init__(self) -> None:
        self._fires: dict[tuple[str, str, date], bool] = {}

    def fires_on(self, job: BackupJob, day: date) -> bool:
        key = (job.schedule_cron, job.schedule_timezone, day)
        if key not in self._fires:
            zone = ZoneInfo(job.schedule_timezone)
            start = datetime.combine(day, time.min, zone)
            end = datetime.combine(day + timedelta(days=1), time.min, zone)
            try:
                self._fires[key] = next_run(*key[:2], start - timedelta(microseconds=1)) < end
            except ValueError:
                self._fires[key] = False
        return self._fires[key]


def _strip_jobs(limit: int) -> list[BackupJob]:
    return list(
        BackupJob.objects.filter(enabled=True)
        .only(
            "name",
            "schedule_cron",
            "schedule_timezone",
            "enabled",
            "failure_streak",
            "stale_since",
            "created_at",
        )
        .order_by("-failure_streak", "name")[:limit]
    )


def _aggregate(jobs: list[BackupJob], since: datetime) -> dict[tuple[Any, date], _Day]:
    """The one query: backups since ``since`` grouped by job, local day and status."""
    local_day: Expression = LocalDate("created_at", "job__schedule_timezone")
    rows = (
        BackupExecution.objects.filter(
            job__in=[job.pk for job in jobs],
            kind=BackupExecution.Kind.BACKUP,
            created_at__gte=since,
        )
        .annotate(day=local_day)
        .order_by()
        .values("job_id", "day", "status")
        .annotate(
            n=Count("pk"),
            size=Max("compressed_size_bytes"),
            duration=Avg("duration_seconds"),
        )
    )
    days: dict[tuple[Any, date], _Day] = {}
    for row in rows:
        record = days.setdefault((row["job_id"], row["day"]), _Day())
        record.counts[row["status"]] = row["n"]
        if row["status"] == Status.COMPLETED:
            record.size = row["size"]
            record.duration = row["duration"]
    return days


def _chart(job: BackupJob, days: list[date], records: dict[date, _Day]) -> SizeChart:
    sizes = [(i, records[d].size) for i, d in enumerate(days) if d in records]
    durations = [(i, records[d].duration) for i, d in enumerate(days) if d in records]
    size_values = [(i, v) for i, v in sizes if v is not None]
    duration_values = [(i, float(v)) for i, v in durations if v is not None]
    max_size = max((v for _, v in size_values), default=0)
    max_duration = max((v for _, v in duration_values), default=0.0)
    step = SizeChart.WIDTH / max(len(days) - 1, 1)

    def points(values: list[tuple[int, Any]], top: float) -> str:
        height = SizeChart.HEIGHT - 4  # a 2 px margin keeps the line's stroke inside the box
        return " ".join(
            f"{i * step:.1f},{2 + height - (height * v / top if top else 0):.1f}" for i, v in values
        )

    count = len(size_values)
    if count:
        description = (
            f"{count} day(s) with a completed backup in the last {len(days)} days. "
            f"Size: largest {human_size(max_size)}, latest {human_size(size_values[-1][1])}. "
            f"Duration: longest {human_duration(max_duration)}, "
            f"latest {human_duration(duration_values[-1][1] if duration_values else None)}."
        )
    else:
        description = f"No completed backup in the last {len(days)} days."
    return SizeChart(
        size_points=points(size_values, max_size),
        duration_points=points(duration_values, max_duration),
        title=f"Backup size and duration of {job.name}, last {len(days)} days",
        description=description,
        max_size=human_size(max_size) if count else "",
        max_duration=human_duration(max_duration) if duration_values else "",
        days=count,
    )


def job_strips(
    now: datetime, days: int = STRIP_DAYS, limit: int = STRIP_JOB_LIMIT
) -> list[JobStrip]:
    """For each enabled job (at most ``limit``, failing ones first), one cell per day of the
    ``days`` days up to today in the job's zone, and the size chart. Two queries."""
    jobs = _strip_jobs(limit)
    if not jobs:
        return []
    # A day later than the window's start in every zone (UTC-12 to UTC+14).
    since = now - timedelta(days=days + 1)
    records = _aggregate(jobs, since)
    schedule = _Schedule()
    strips = []
    for job in jobs:
        zone = ZoneInfo(job.schedule_timezone)
        today = now.astimezone(zone).date()
        created = job.created_at.astimezone(zone).date() if job.created_at else today
        window = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
        job_days = {d: records[(job.pk, d)] for d in window if (job.pk, d) in records}
        cells = []
        for day in window:
            record = job_days.get(day)
            # A past day without any backup was missed if the schedule fired on it (and the
            # job existed by then); today may still be to come.
            scheduled = record is None and created < day < today and schedule.fires_on(job, day)
            status = _day_status(record, scheduled)
            start = datetime.combine(day, time.min, zone)
            end = datetime.combine(day + timedelta(days=1), time.min, zone)
            cells.append(
                DayCell(
                    day,
                    status,
                    _day_title(day, status, record),
                    changelist(
                        "executions.backupexecution",
                        job__id__exact=job.pk,
                        created_at__gte=start,
                        created_at__lt=end,
                    ),
                )
            )
        strips.append(JobStrip(job, cells, _chart(job, window, job_days)))
    return strips
