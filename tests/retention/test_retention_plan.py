"""The GFS planner, against examples and against a brute-force reference implementation."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.retention import BackupRecord, RetentionPlan, RetentionPolicy, plan_retention

TIMEZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "UTC",
]
BERLIN = ZoneInfo("Europe/Berlin")
STATUSES = ["completed", "completed", "completed", "failed", "running", "queued", "cancelled"]


# --- reference implementation -------------------------------------------------------------
# Brute force and deliberately different from the planner: for each rule it walks the periods
# one by one (by their first and last local day) and scans every backup for each period.


def _local_day(record: BackupRecord[Any], tz: ZoneInfo) -> date:
    return record.finished_at.astimezone(tz).date()


def _newest(records: list[BackupRecord[Any]]) -> BackupRecord[Any] | None:
    return max(records, key=lambda r: (r.finished_at, str(r.id)), default=None)


def _previous_month_start(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def _periods(kind: str, today: date, count: int) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of the ``count`` most recent periods of ``kind``."""
    periods = []
    if kind == "daily":
        for n in range(count):
            day = today - timedelta(days=n)
            periods.append((day.strftime("%Y-%m-%d"), day, day))
    elif kind == "weekly":
        monday = today - timedelta(days=today.weekday())
        for _ in range(count):
            thursday = monday + timedelta(days=3)  # ISO: a week belongs to its Thursday's year
            number = (thursday - date(thursday.year, 1, 1)).days // 7 + 1
            periods.append((f"{thursday.year}-W{number:02d}", monday, monday + timedelta(days=6)))
            monday -= timedelta(days=7)
    else:
        first = today.replace(day=1)
        for _ in range(count):
            following = (first + timedelta(days=32)).replace(day=1)
            periods.append((first.strftime("%Y-%m"), first, following - timedelta(days=1)))
            first = _previous_month_start(first)
    return periods


def reference_plan(
    backups: list[BackupRecord[Any]], policy: RetentionPolicy, tz: ZoneInfo, now: datetime
) -> RetentionPlan[Any]:
    completed = [b for b in backups if b.status == "completed"]
    future = [b for b in completed if b.finished_at > now]
    past = [b for b in completed if b.finished_at <= now]
    today = now.astimezone(tz).date()
    reasons: dict[Hashable, list[str]] = {b.id: ["future"] for b in future}
    newest = _newest(past)
    if newest is not None:
        reasons.setdefault(newest.id, []).append("newest")
    for kind, count in (
        ("daily", policy.keep_daily),
        ("weekly", policy.keep_weekly),
        ("monthly", policy.keep_monthly),
    ):
        for label, first, last in _periods(kind, today, count):
            chosen = _newest([b for b in past if first <= _local_day(b, tz) <= last])
            if chosen is not None:
                reasons.setdefault(chosen.id, []).append(f"{kind} {label}")
    delete = [b.id for b in completed if b.id not in reasons]
    return RetentionPlan(keep=reasons, delete=delete)


# --- hypothesis ---------------------------------------------------------------------------

TWO_YEARS = 2 * 366 * 24 * 3600


@st.composite
def histories(
    draw: st.DrawFn,
) -> tuple[list[BackupRecord[Any]], RetentionPolicy, ZoneInfo, datetime]:
    now = draw(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2029, 12, 31))
    ).replace(tzinfo=UTC)
    # Offsets on a coarse grid now and then, so that equal timestamps (ties) happen too.
    offset = st.one_of(
        st.integers(min_value=-TWO_YEARS, max_value=2 * 24 * 3600),
        st.integers(min_value=-730, max_value=2).map(lambda days: days * 24 * 3600),
    )
    rows = draw(st.lists(st.tuples(offset, st.sampled_from(STATUSES)), min_size=0, max_size=300))
    backups = [
        BackupRecord(id=n, finished_at=now + timedelta(seconds=seconds), status=status)
        for n, (seconds, status) in enumerate(rows)
    ]
    count = st.one_of(st.integers(0, 40), st.sampled_from([0, 1, 2, 100, 400]))
    policy = RetentionPolicy(
        keep_daily=draw(count), keep_weekly=draw(count), keep_monthly=draw(count)
    )
    return backups, policy, ZoneInfo(draw(st.sampled_from(TIMEZONES))), now


HISTORIES = histories()


def _completed_ids(backups: list[BackupRecord[Any]]) -> set[Hashable]:
    return {b.id for b in backups if b.status == "completed"}


@settings(max_examples=200, deadline=None)
@given(HISTORIES)
def test_planner_agrees_with_the_reference_implementation(case):
    backups, policy, tz, now = case
    plan = plan_retention(backups, policy, tz, now)
    expected = reference_plan(backups, policy, tz, now)
    assert set(plan.delete) == set(expected.delete)
    assert {k: sorted(v) for k, v in plan.keep.items()} == {
        k: sorted(v) for k, v in expected.keep.items()
    }


@settings(max_examples=200, deadline=None)
@given(HISTORIES)
def test_planner_never_deletes_the_newest_completed_backup(case):
    backups, policy, tz, now = case
    plan = plan_retention(backups, policy, tz, now)
    completed = [b for b in backups if b.status == "completed"]
    if completed:
        newest = max(completed, key=lambda b: (b.finished_at, str(b.id)))
        assert newest.id in plan.keep
        assert newest.id not in plan.delete


@settings(max_examples=200, deadline=None)
@given(HISTORIES)
def test_keep_and_delete_partition_the_completed_backups(case):
    backups, policy, tz, now = case
    plan = plan_retention(backups, policy, tz, now)
    assert set(plan.keep).isdisjoint(plan.delete)
    assert len(plan.delete) == len(set(plan.delete))
    assert set(plan.keep) | set(plan.delete) == _completed_ids(backups)


def _kept_by(plan: RetentionPlan[Any], rule: str) -> int:
    return sum(1 for reasons in plan.keep.values() for r in reasons if r.startswith(rule + " "))


def _periods_with_backups(
    backups: list[BackupRecord[Any]], tz: ZoneInfo, now: datetime, key: Callable[[date], object]
) -> Callable[[set[object]], int]:
    keys = {
        key(b.finished_at.astimezone(tz).date())
        for b in backups
        if b.status == "completed" and b.finished_at <= now
    }
    return lambda window: len(keys & window)


@settings(max_examples=200, deadline=None)
@given(HISTORIES)
def test_each_rule_keeps_one_backup_per_recent_period_that_has_one(case):
    backups, policy, tz, now = case
    plan = plan_retention(backups, policy, tz, now)
    today = now.astimezone(tz).date()
    days = {today - timedelta(days=n) for n in range(policy.keep_daily)}
    mondays = {
        today - timedelta(days=today.weekday()) - timedelta(weeks=n)
        for n in range(policy.keep_weekly)
    }
    months: set[object] = set()
    first = today.replace(day=1)
    for _ in range(policy.keep_monthly):
        months.add((first.year, first.month))
        first = _previous_month_start(first)

    assert _kept_by(plan, "daily") == _periods_with_backups(backups, tz, now, lambda d: d)(days)
    assert _kept_by(plan, "weekly") == _periods_with_backups(
        backups, tz, now, lambda d: d - timedelta(days=d.weekday())
    )(mondays)
    assert _kept_by(plan, "monthly") == _periods_with_backups(
        backups, tz, now, lambda d: (d.year, d.month)
    )(months)


@settings(max_examples=200, deadline=None)
@given(HISTORIES)
def test_statuses_other_than_completed_are_never_in_the_plan(case):
    backups, policy, tz, now = case
    plan = plan_retention(backups, policy, tz, now)
    others = {b.id for b in backups if b.status != "completed"}
    assert others.isdisjoint(plan.keep)
    assert others.isdisjoint(plan.delete)


# --- examples -----------------------------------------------------------------------------


def _at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def test_a_backup_at_half_past_midnight_on_the_fall_back_day_belongs_to_that_day():
    # 2026-10-25 is the day Berlin goes from CEST back to CET; 00:30 local is 22:30 UTC the
    # evening before.
    backup = BackupRecord(id="b", finished_at=datetime(2026, 10, 24, 22, 30, tzinfo=UTC))
    other = BackupRecord(id="a", finished_at=datetime(2026, 10, 24, 21, 0, tzinfo=UTC))
    plan = plan_retention(
        [backup, other], RetentionPolicy(2, 0, 0), BERLIN, _at("2026-10-25T12:00")
    )
    assert plan.keep == {"b": ["newest", "daily 2026-10-25"], "a": ["daily 2026-10-24"]}


def test_the_later_of_the_two_repeated_hours_on_the_fall_back_day_is_the_days_newest():
    first_0230 = BackupRecord(id="cest", finished_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    second_0230 = BackupRecord(id="cet", finished_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    plan = plan_retention(
        [second_0230, first_0230],
        RetentionPolicy(1, 0, 0),
        BERLIN,
        datetime(2026, 10, 25, 20, 0, tzinfo=UTC),
    )
    assert plan.keep == {"cet": ["newest", "daily 2026-10-25"]}
    assert plan.delete == ["cest"]


def test_the_last_days_of_december_and_first_of_january_share_iso_week_53():
    old_year = BackupRecord(id="dec31", finished_at=_at("2026-12-31T03:00"))
    new_year = BackupRecord(id="jan2", finished_at=_at("2027-01-02T03:00"))
    plan = plan_retention(
        [old_year, new_year], RetentionPolicy(0, 1, 0), BERLIN, _at("2027-01-03T12:00")
    )
    assert plan.keep == {"jan2": ["newest", "weekly 2026-W53"]}
    assert plan.delete == ["dec31"]


def test_the_first_monday_of_january_starts_iso_week_one_of_the_new_year():
    sunday = BackupRecord(id="sun", finished_at=_at("2027-01-03T03:00"))
    monday = BackupRecord(id="mon", finished_at=_at("2027-01-04T03:00"))
    plan = plan_retention(
        [sunday, monday], RetentionPolicy(0, 2, 0), BERLIN, _at("2027-01-04T12:00")
    )
    assert plan.keep == {
        "mon": ["newest", "weekly 2027-W01"],
        "sun": ["weekly 2026-W53"],
    }


def test_a_backup_from_late_evening_utc_counts_for_the_next_day_in_kolkata():
    kolkata = ZoneInfo("Asia/Kolkata")
    backup = BackupRecord(id="b", finished_at=datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    plan = plan_retention(
        [backup], RetentionPolicy(1, 0, 1), kolkata, datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    )
    assert plan.keep == {"b": ["newest", "daily 2026-12-01", "monthly 2026-12"]}


def test_a_policy_of_all_zeros_keeps_only_the_newest_backup():
    backups = [
        BackupRecord(id=n, finished_at=_at("2026-11-01T03:00") + timedelta(days=n))
        for n in range(5)
    ]
    plan = plan_retention(backups, RetentionPolicy(0, 0, 0), BERLIN, _at("2026-11-10T12:00"))
    assert plan.keep == {4: ["newest"]}
    assert plan.delete == [0, 1, 2, 3]


def test_backups_finished_after_now_are_kept_and_take_no_period_slot():
    future = BackupRecord(id="future", finished_at=_at("2026-11-10T18:00"))
    today = BackupRecord(id="today", finished_at=_at("2026-11-10T03:00"))
    plan = plan_retention(
        [future, today], RetentionPolicy(1, 0, 0), BERLIN, _at("2026-11-10T12:00")
    )
    assert plan.keep == {"future": ["future"], "today": ["newest", "daily 2026-11-10"]}


def test_empty_days_use_up_their_slot_so_old_daily_backups_are_not_kept():
    # Backups stopped two months ago: the daily window holds none of them, the monthly one does.
    backups = [
        BackupRecord(id=n, finished_at=_at("2026-09-01T03:00") + timedelta(days=n))
        for n in range(10)
    ]
    plan = plan_retention(backups, RetentionPolicy(7, 0, 3), BERLIN, _at("2026-11-10T12:00"))
    assert plan.keep == {9: ["newest", "monthly 2026-09"]}


def test_an_empty_history_plans_nothing():
    plan: RetentionPlan[int] = plan_retention(
        [], RetentionPolicy(), BERLIN, _at("2026-11-10T12:00")
    )
    assert plan == RetentionPlan(keep={}, delete=[])


def test_a_stored_policy_missing_keys_takes_the_schema_defaults():
    assert RetentionPolicy.from_json({"keep_daily": 3}) == RetentionPolicy(3, 4, 12, False)
