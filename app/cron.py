"""Cron timetables in a time zone: checking them, their ticks (DST included), and saying them in words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

from .errors import AppError

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
          "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
CRON_HELP = ("Write five fields separated by spaces: minute hour day-of-month month day-of-week. Examples: "
             "'0 8 * * 1-5' (weekdays at 8:00), '*/15 * * * *' (every 15 minutes), '30 6 1 * *' (6:30 on the "
             "1st of each month), '0 9 * * MON' (Mondays at 9:00), or @daily, @hourly, @weekly, @monthly.")

class InvalidSchedule(AppError):
    status = 422
    code = "invalid_schedule"


def parse_cron(expression: str) -> str:
    """The expression, tidied; InvalidSchedule saying how to write one when it is not valid."""
    text = " ".join((expression or "").split())
    if not text:
        raise InvalidSchedule("The cron expression is empty. " + CRON_HELP, details={"field": "cron"})
    expanded = MACROS.get(text.lower(), text)
    if text.startswith("@") and text.lower() not in MACROS:
        raise InvalidSchedule(f"'{text}' is not a cron shortcut MindDocs knows. " + CRON_HELP, details={"field": "cron"})
    if len(expanded.split()) != 5:
        raise InvalidSchedule(f"'{text}' has {len(expanded.split())} fields, not 5. " + CRON_HELP,
                              details={"field": "cron"})
    try:
        croniter(expanded)
    except (ValueError, KeyError) as exc:
        raise InvalidSchedule(f"'{text}' is not a valid cron expression ({exc}). " + CRON_HELP,
                              details={"field": "cron"}) from None
    return text.lower() if text.lower() in MACROS else text


def parse_timezone(name: str) -> ZoneInfo:
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")):
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"'{name}' is not a time zone. Use an IANA name such as 'Europe/Madrid', "
                              "'America/Mexico_City', 'Atlantic/Canary' or 'UTC'.", details={"field": "timezone"}
                              ) from None


def timezones() -> list[str]:
    return sorted(available_timezones())


def fire_times(cron: str, timezone: str, after: datetime, *, start_at: datetime | None = None,
               end_at: datetime | None = None) -> Iterator[datetime]:
    """The ticks after `after` (UTC), in order, within [start_at, end_at].

    Cron times are wall-clock times in the schedule's time zone. When clocks go forward, a time that does not
    exist that day fires at the first minute after the gap; when they go back, a time that happens twice fires
    once (the first time) unless the hour field is '*', which fires every hour, both of them included.
    """
    tz = parse_timezone(timezone)
    expression = MACROS.get(cron, cron)
    every_hour = expression.split()[1] == "*"
    begin = max(after, start_at - timedelta(microseconds=1)) if start_at else after
    iterator = croniter(expression, begin.astimezone(tz))
    previous: datetime | None = None
    while True:
        local: datetime = iterator.get_next(datetime)
        moment = local.astimezone(UTC)
        if end_at is not None and moment > end_at:
            return
        if previous is not None and moment <= previous:
            continue
        first = local.replace(tzinfo=None).replace(tzinfo=tz, fold=0).astimezone(UTC)
        if first != moment and not every_hour:
            continue  # the repeated hour when clocks go back: this wall time already fired
        previous = moment
        yield moment


def previous_tick(cron: str, timezone: str, before: datetime, *, start_at: datetime | None = None,
                  end_at: datetime | None = None) -> datetime | None:
    """The last tick strictly before `before` (UTC) within [start_at, end_at], or None; however long ago.
    Follows `fire_times`' rule for the repeated hour in autumn."""
    tz = parse_timezone(timezone)
    expression = MACROS.get(cron, cron)
    if end_at is not None and before > end_at:
        before = end_at + timedelta(microseconds=1)
    iterator = croniter(expression, before.astimezone(tz))
    for _ in range(3):  # at most one repeated wall time to step over
        local: datetime = iterator.get_prev(datetime)
        moment = local.astimezone(UTC)
        if start_at is not None and moment < start_at:
            return None
        first = local.replace(tzinfo=None).replace(tzinfo=tz, fold=0).astimezone(UTC)
        if first == moment or expression.split()[1] == "*" or moment >= before:
            if moment < before:
                return moment
            continue
        # the second 02:30 of an autumn night: the tick was the first one, an hour earlier
        return first if (start_at is None or first >= start_at) else None
    return None


def describe(cron: str, language: str = "en") -> str:
    """The cron expression in words ('At 08:00, Monday through Friday'), in Spanish or English."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.locale_code = "es_ES" if language == "es" else "en_US"
    options.use_24hour_time_format = True
    text = ExpressionDescriptor(MACROS.get(cron, cron), options).get_description()
    if language == "es":  # cron-descriptor names days and months through the C locale: English
        for english, spanish in _ES_NAMES.items():
            text = re.sub(rf"\b{english}\b", spanish, text)
    return text


_ES_NAMES = {
    "Monday": "lunes", "Tuesday": "martes", "Wednesday": "miércoles", "Thursday": "jueves", "Friday": "viernes",
    "Saturday": "sábado", "Sunday": "domingo", "January": "enero", "February": "febrero", "March": "marzo",
    "April": "abril", "May": "mayo", "June": "junio", "July": "julio", "August": "agosto", "September": "septiembre",
    "October": "octubre", "November": "noviembre", "December": "diciembre",
}
