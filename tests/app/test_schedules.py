"""Schedules and watched folders: timetables, time zones, misfires, exactly-once firing, folder pick-up."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cron import InvalidSchedule, describe, fire_times, parse_cron, parse_timezone, previous_tick
from app.errors import NotFound
from app.schedules import safe_name
from app.services import Services
from tests.conftest import CORPUS, PG_ADMIN_URL, make_settings
from tests.graphs import graph, node, output


class Clock:
    """The scheduler's notion of now, moved by the test: no sleeping for hours."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def text_graph(name: str = "greeting") -> dict:
    out, e = output("out", "greeting", "tpl")
    return graph([node("who", "io.input", name="who", kind="text", label="Who"),
                  node("tpl", "text.template", variables=["text"], template="Hola {{ text }}"), out],
                 [{"source": "who", "source_port": "value", "target": "tpl", "target_port": "text"}, e], name=name)


def file_graph() -> dict:
    out, e = output("out", "same", "doc", "value")
    return graph([node("doc", "io.input", name="doc", kind="file", label="Document"), out], [e], name="inbox")


def broken_graph() -> dict:
    return graph([node("x", "no.such_type")], [], name="greeting")


# --- cron, time zones and DST ------------------------------------------------------------------------------

def test_bad_cron_and_time_zone_say_how_to_write_them():
    for bad in ("", "61 * * * *", "0 8 * *", "0 8 * * * *", "@sometimes", "every day"):
        with pytest.raises(InvalidSchedule) as info:
            parse_cron(bad)
        assert "0 8 * * 1-5" in info.value.message and info.value.details == {"field": "cron"}
    assert parse_cron("  0  8 * * MON-FRI ") == "0 8 * * MON-FRI"
    assert parse_cron("@Daily") == "@daily"
    for bad in ("Europe/Madird", "", "../etc/passwd", "CEST"):
        with pytest.raises(InvalidSchedule, match="Europe/Madrid"):
            parse_timezone(bad)


def test_weekdays_at_eight_madrid_time_follow_summer_time():
    # Given "every weekday at 8:00 Madrid time", from Friday 27 March 2026 (clocks go forward on Sunday 29)
    after = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
    ticks = fire_times("0 8 * * 1-5", "Europe/Madrid", after)
    first = [next(ticks) for _ in range(3)]
    # Then Friday is 07:00 UTC (CET, +1) and Monday/Tuesday 06:00 UTC (CEST, +2); no weekend tick
    assert first == [datetime(2026, 3, 27, 7, tzinfo=UTC), datetime(2026, 3, 30, 6, tzinfo=UTC),
                     datetime(2026, 3, 31, 6, tzinfo=UTC)]


def test_dst_gap_fires_once_after_it_and_repeated_hour_fires_once():
    # Spring forward: 02:30 does not exist on 29 March 2026 in Madrid; it fires at 03:00 local (01:00 UTC)
    ticks = fire_times("30 2 * * *", "Europe/Madrid", datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert [next(ticks) for _ in range(2)] == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
                                               datetime(2026, 3, 30, 0, 30, tzinfo=UTC)]
    # Fall back: 02:30 happens twice on 25 October 2026; a daily job runs once, at the first one
    ticks = fire_times("30 2 * * *", "Europe/Madrid", datetime(2026, 10, 24, 12, tzinfo=UTC))
    assert [next(ticks) for _ in range(2)] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                                               datetime(2026, 10, 26, 1, 30, tzinfo=UTC)]
    # … while "every 30 minutes" keeps its rhythm through both 02:xx hours (four ticks between 00:00 and 02:00 UTC)
    ticks = fire_times("*/30 * * * *", "Europe/Madrid", datetime(2026, 10, 24, 23, 59, tzinfo=UTC))
    assert [next(ticks) for _ in range(5)] == [datetime(2026, 10, 25, 0, 0, tzinfo=UTC) + timedelta(minutes=30 * i)
                                               for i in range(5)]


@pytest.mark.parametrize("cron", ["30 2 * * *", "*/30 * * * *", "0 8 * * 1-5", "15 2,3 * * *", "@daily"])
def test_latest_missed_tick_agrees_with_the_timetable_across_dst(cron):
    for start in (datetime(2026, 3, 28, 18, tzinfo=UTC), datetime(2026, 10, 24, 18, tzinfo=UTC)):
        for step in range(0, 12 * 60, 7):  # every 7 minutes through both clock changes
            before = start + timedelta(minutes=step)
            expected = None
            for moment in fire_times(cron, "Europe/Madrid", before - timedelta(days=4)):
                if moment >= before:
                    break
                expected = moment
            assert previous_tick(cron, "Europe/Madrid", before) == expected, (cron, before)


def test_start_and_end_dates_bound_the_ticks():
    start, end = datetime(2026, 1, 5, 0, tzinfo=UTC), datetime(2026, 1, 7, 23, tzinfo=UTC)
    ticks = list(fire_times("0 9 * * *", "UTC", datetime(2026, 1, 1, tzinfo=UTC), start_at=start, end_at=end))
    assert ticks == [datetime(2026, 1, d, 9, tzinfo=UTC) for d in (5, 6, 7)]


def test_description_in_spanish_and_english():
    assert describe("0 8 * * 1-5", "en") == "At 08:00, Monday through Friday"
    assert "lunes" in describe("0 8 * * 1-5", "es") and "08:00" in describe("0 8 * * 1-5", "es")
    assert safe_name("../../a\x00b/c:d.pdf") == "_.._a_b_c_d.pdf"


# --- firing through the service ----------------------------------------------------------------------------

@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 6, 0, 30, tzinfo=UTC))  # a Monday


@pytest.fixture
def services(tmp_path):
    """Services whose scheduler thread is off: the tests tick by hand, with their own clock."""
    with Services(make_settings(tmp_path / "data", scheduler={"in_server": False})) as svc:
        yield svc


@pytest.fixture
def svc(services, clock) -> Services:
    services.schedules.clock = clock
    return services


def make_schedule(svc: Services, **fields):
    version = svc.graphs.save(text_graph())
    return svc.schedules.create({"name": "Buenos días", "graph_id": version.graph_id, "inputs": {"who": "equipo"},
                                 "cron": "0 * * * *", "timezone": "Europe/Madrid", **fields})


def test_a_tick_fires_once_and_runs_the_latest_version(svc, clock):
    schedule = make_schedule(svc)
    assert svc.schedules.tick(clock.advance(minutes=29)) == []  # 06:29:30, nothing due
    fires = svc.schedules.tick(clock.advance(minutes=31))  # 07:00:30, the 07:00 tick is due
    assert [(f.fire_at, f.kind, f.error) for f in fires] == [(datetime(2026, 11, 2, 7, tzinfo=UTC), "cron", None)]
    assert svc.schedules.tick(clock.advance(seconds=15)) == []  # the same tick never fires twice
    run = svc.runs.get(fires[0].run_id)
    assert run.inputs == {"who": "equipo"}
    assert run.graph_version_id == svc.graphs.latest(schedule.graph_id).id
    row = svc.schedules.get(schedule.id)
    assert row.last_run_id == run.id and row.last_error is None
    assert svc.schedules.to_json(row)["next_fire_at"] == "2026-11-02T08:00:00+00:00"


def test_a_fire_that_cannot_start_records_why(svc, clock):
    schedule = make_schedule(svc)
    svc.graphs.save(broken_graph(), graph_id=schedule.graph_id)  # the latest version no longer validates
    fires = svc.schedules.tick(clock.advance(hours=1))
    assert len(fires) == 1 and fires[0].run_id is None
    assert "no.such_type" in fires[0].error or "problems" in fires[0].error
    assert svc.schedules.get(schedule.id).last_error == fires[0].error
    with pytest.raises(InvalidSchedule) as info:
        svc.schedules.run_now(schedule.id)
    assert info.value.code == "run_not_started"


def test_a_pinned_version_keeps_running_that_version(svc, clock):
    version = svc.graphs.save(text_graph())
    schedule = svc.schedules.create({"name": "fixed", "graph_id": version.graph_id, "graph_version_id": version.id,
                                     "inputs": {"who": "x"}, "cron": "@hourly", "timezone": "UTC"})
    svc.graphs.save(broken_graph(), graph_id=version.graph_id)
    run_id = svc.schedules.run_now(schedule.id)
    assert svc.runs.get(run_id).graph_version_id == version.id


@pytest.mark.parametrize("policy, expected", [("skip", []), ("catch_up_one", [datetime(2026, 11, 2, 11, tzinfo=UTC)])])
def test_misfire_policy_after_downtime(svc, clock, policy, expected):
    make_schedule(svc, misfire=policy)
    # Given the scheduler was down from 06:00 to 11:20 (hourly ticks 07:00 … 11:00 missed)
    fires = svc.schedules.tick(clock.advance(hours=5, minutes=20))
    # Then skip starts nothing; catch_up_one starts one run, for the latest missed tick
    assert [f.fire_at for f in fires] == expected
    assert all(f.run_id for f in fires)
    # And afterwards the timetable goes on as usual
    fires = svc.schedules.tick(clock.advance(minutes=40, seconds=5))
    assert [f.fire_at for f in fires] == [datetime(2026, 11, 2, 12, tzinfo=UTC)]


def test_paused_schedules_do_not_fire_and_resume_does_not_catch_up(svc, clock):
    schedule = make_schedule(svc, misfire="catch_up_one")
    svc.schedules.pause(schedule.id)
    assert svc.schedules.tick(clock.advance(hours=3)) == []
    assert svc.schedules.state(svc.schedules.get(schedule.id)) == "paused"
    svc.schedules.resume(schedule.id)
    assert svc.schedules.tick(clock.advance(minutes=1)) == []
    assert len(svc.schedules.tick(clock.advance(minutes=59))) == 1


def test_invalid_schedules_are_refused_with_reasons(svc, tmp_path):
    version = svc.graphs.save(text_graph())
    base = {"name": "x", "graph_id": version.graph_id, "inputs": {"who": "a"}, "cron": "0 8 * * 1-5",
            "timezone": "Europe/Madrid"}
    cases = [({"cron": "0 25 * * *"}, "cron"), ({"inputs": {"who": {"a": 1}}}, "inputs"), ({"timezone": "Madrid"}, "timezone"), ({"misfire": "all"}, "misfire"),
             ({"inputs": {"whom": "a"}}, "inputs"), ({"inputs": {}}, "inputs"), ({"name": " "}, "name"),
             ({"start_at": "2026-02-01T00:00", "end_at": "2026-01-01T00:00"}, "end_at"),
             ({"start_at": "tomorrow"}, "start_at")]
    for change, field in cases:
        with pytest.raises(InvalidSchedule) as info:
            svc.schedules.create({**base, **change})
        assert info.value.details["field"] == field, (change, info.value.message)
    with pytest.raises(NotFound):
        svc.schedules.create({**base, "graph_id": "nope"})
    with pytest.raises(InvalidSchedule, match="Unknown field"):
        svc.schedules.create({**base, "colour": "red"})


# --- exactly once with two schedulers ----------------------------------------------------------------------

@pytest.fixture
def fresh_pg_url():
    import psycopg

    name = f"minddocs_sched_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_schedulers_ticking_together_fire_each_tick_once(tmp_path, request, backend):
    overrides = {} if backend == "sqlite" else {"database_url": request.getfixturevalue("fresh_pg_url")}
    settings = make_settings(tmp_path / "data", **overrides)
    # Given two scheduler processes' worth of services (own engines and connections) on one database
    first, second = Services(settings), Services(settings)
    try:
        clock = Clock(datetime(2026, 11, 2, 6, 0, 30, tzinfo=UTC))
        first.schedules.clock = second.schedules.clock = clock
        version = first.graphs.save(text_graph())
        schedules = [first.schedules.create({"name": f"s{i}", "graph_id": version.graph_id, "inputs": {"who": "x"},
                                              "cron": "* * * * *", "timezone": "UTC"}) for i in range(3)]
        claimed: list = []
        lock = threading.Lock()
        # When both tick at the same moments, 12 minutes in a row
        for _ in range(12):
            now = clock.advance(minutes=1)
            barrier = threading.Barrier(2)

            def tick(svc: Services, now=now, barrier=barrier) -> None:
                barrier.wait()
                fires = svc.schedules.tick(now)
                with lock:
                    claimed.extend(fires)

            threads = [threading.Thread(target=tick, args=(s,)) for s in (first, second)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        # Then every schedule fired every minute exactly once, each fire with its own run
        for schedule in schedules:
            fires = first.schedules.fires(schedule.id, limit=100)
            assert sorted(f.fire_at for f in fires) == [datetime(2026, 11, 2, 6, m, tzinfo=UTC) for m in range(1, 13)]
        assert len(claimed) == 36 and len({f.id for f in claimed}) == 36
        assert all(f.run_id and f.error is None for f in claimed)
        assert len({f.run_id for f in claimed}) == 36
        assert len(first.runs.list(limit=100)) == 36
    finally:
        first.close()
        second.close()


# --- watched folders ---------------------------------------------------------------------------------------

def test_watched_folder_takes_a_corpus_pdf_runs_it_and_moves_it(tmp_path):
    settings = make_settings(tmp_path / "data", scheduler={"in_server": False})
    with Services(settings) as svc:
        clock = Clock(datetime.now(UTC))
        svc.schedules.clock = clock
        version = svc.graphs.save(file_graph())
        schedule = svc.schedules.create({"name": "Bandeja", "graph_id": version.graph_id, "watch_dir": "facturas",
                                         "watch_input": "doc"})
        inbox = Path(schedule.watch_dir)
        assert inbox == (settings.data_dir / "inbox" / "facturas").resolve() and inbox.is_dir()
        pdf = CORPUS / "pdf_form_libreoffice.pdf"
        shutil.copyfile(pdf, inbox / "formulario.pdf")
        (inbox / "descarga.pdf.part").write_bytes(b"%PDF half")  # partial download: left alone
        (inbox / "~$borrador.docx").write_bytes(b"lock")  # an editor's lock file: left alone
        (inbox / ".oculto.pdf").write_bytes(b"hidden")
        os.symlink(pdf, inbox / "enlace.pdf")  # a link: never followed
        # The first look only notes the file; the next one, with the file unchanged, takes it
        assert svc.schedules.tick(clock.advance(seconds=0)) == []
        fires = svc.schedules.tick(clock.advance(seconds=15))
        assert [(f.kind, f.key, f.error) for f in fires] == [("file", "formulario.pdf", None)]
        run = svc.runs.wait(fires[0].run_id, timeout_s=60)
        assert run.state == "succeeded", run
        assert run.outputs["same"]["artifact"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
        assert run.outputs["same"]["name"] == "formulario.pdf"
        assert (inbox / "processed" / "formulario.pdf").read_bytes() == pdf.read_bytes()
        assert sorted(p.name for p in inbox.iterdir()) == [".oculto.pdf", "descarga.pdf.part", "enlace.pdf",
                                                           "processed", "~$borrador.docx"]
        assert svc.schedules.tick(clock.advance(seconds=15)) == []
        # The same file dropped again is a new file: it runs again and gets a name of its own in processed/
        shutil.copyfile(pdf, inbox / "formulario.pdf")
        svc.schedules.tick(clock.advance(seconds=15))
        assert len(svc.schedules.tick(clock.advance(seconds=15))) == 1
        assert (inbox / "processed" / "formulario (2).pdf").exists()


def test_watched_folder_file_whose_run_cannot_start_goes_to_failed(services, clock):
    services.schedules.clock = clock
    version = services.graphs.save(file_graph())
    schedule = services.schedules.create({"name": "x", "graph_id": version.graph_id, "watch_dir": "bad",
                                          "watch_input": "doc"})
    services.graphs.save(graph([node("x", "no.such_type")], [], name="inbox"), graph_id=version.graph_id)
    inbox = Path(schedule.watch_dir)
    (inbox / "carta.txt").write_text("hola", encoding="utf-8")
    services.schedules.tick(clock.advance(seconds=1))
    fires = services.schedules.tick(clock.advance(seconds=15))
    assert len(fires) == 1 and fires[0].run_id is None and fires[0].error
    assert (inbox / "failed" / "carta.txt").read_text(encoding="utf-8") == "hola"
    assert (inbox / "failed" / "carta.txt.error.txt").read_text(encoding="utf-8").strip() == fires[0].error
    assert not (inbox / "carta.txt").exists()


def test_watch_folders_outside_the_roots_are_refused(services, tmp_path):
    version = services.graphs.save(file_graph())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = services.settings.data_dir / "inbox"
    root.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, root / "escape")
    for folder in (str(outside), "../../elsewhere", "escape", "/etc"):
        with pytest.raises(InvalidSchedule, match="outside the folders MindDocs may watch") as info:
            services.schedules.create({"name": "x", "graph_id": version.graph_id, "watch_dir": folder,
                                       "watch_input": "doc"})
        assert "MINDDOCS_SCHEDULER__WATCH_ROOTS" in info.value.message
    text = services.graphs.save(text_graph())
    with pytest.raises(InvalidSchedule, match="no file input"):
        services.schedules.create({"name": "x", "graph_id": text.graph_id, "watch_dir": "ok", "inputs": {"who": "a"},
                                   "watch_input": "who"})


def test_embedded_scheduler_thread_picks_up_files_and_stops_with_services(tmp_path):
    settings = make_settings(tmp_path / "data", scheduler={"poll_s": 0.2})
    with Services(settings) as svc:
        assert svc.scheduler._thread is not None and svc.scheduler._thread.is_alive()
        version = svc.graphs.save(file_graph())
        schedule = svc.schedules.create({"name": "x", "graph_id": version.graph_id, "watch_dir": "auto",
                                         "watch_input": "doc"})
        inbox = Path(schedule.watch_dir)
        (inbox / "nota.txt").write_text("hola", encoding="utf-8")
        for _ in range(100):
            if (inbox / "processed" / "nota.txt").exists():
                break
            threading.Event().wait(0.1)
        assert (inbox / "processed" / "nota.txt").exists()
        thread = svc.scheduler._thread
    assert not thread.is_alive()


def test_scheduler_command_takes_files_until_sigterm(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "data"
    with Services(make_settings(data, scheduler={"in_server": False})) as svc:
        version = svc.graphs.save(file_graph())
        inbox = Path(svc.schedules.create({"name": "x", "graph_id": version.graph_id, "watch_dir": "cli",
                                           "watch_input": "doc"}).watch_dir)
    minddocs = str(Path(sys.executable).parent / "minddocs")
    env = {"MINDDOCS_DATA_DIR": str(data), "MINDDOCS_LOAD_SAMPLES": "false", "MINDDOCS_SCHEDULER__POLL_S": "0.2",
           "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([minddocs, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=tmp_path)
    try:
        (inbox / "nota.txt").write_text("hola", encoding="utf-8")
        deadline = time.monotonic() + 60
        while not (inbox / "processed" / "nota.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (inbox / "processed" / "nota.txt").exists()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Scheduler running" in stdout and "Scheduler stopped." in stdout


def test_two_scheduler_processes_on_postgresql_take_each_file_once(tmp_path, fresh_pg_url):
    import subprocess
    import sys
    import time

    # Given a watched folder on PostgreSQL and 20 files dropped in it
    data = tmp_path / "data"
    with Services(make_settings(data, database_url=fresh_pg_url, scheduler={"in_server": False})) as svc:
        version = svc.graphs.save(file_graph())
        schedule = svc.schedules.create({"name": "x", "graph_id": version.graph_id, "watch_dir": "many",
                                         "watch_input": "doc"})
    inbox = Path(schedule.watch_dir)
    for i in range(20):
        (inbox / f"carta-{i:02}.txt").write_text(f"carta {i}", encoding="utf-8")
    # When two `minddocs scheduler` processes look at it every 0.1 s
    minddocs = str(Path(sys.executable).parent / "minddocs")
    env = {"MINDDOCS_DATA_DIR": str(data), "MINDDOCS_DATABASE_URL": fresh_pg_url, "MINDDOCS_LOAD_SAMPLES": "false",
           "MINDDOCS_SCHEDULER__POLL_S": "0.1", "PATH": "/usr/bin:/bin"}
    processes = [subprocess.Popen([minddocs, "scheduler"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, cwd=tmp_path) for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while len(list(inbox.glob("*.txt"))) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.communicate(timeout=30)
    # Then each file started one run and was moved once
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [f"carta-{i:02}.txt" for i in range(20)]
    with Services(make_settings(data, database_url=fresh_pg_url, scheduler={"in_server": False})) as svc:
        fires = svc.schedules.fires(schedule.id, limit=100)
        assert sorted(f.key for f in fires) == [f"carta-{i:02}.txt" for i in range(20)]
        assert all(f.run_id and f.error is None for f in fires)
        assert len(svc.runs.list(limit=100)) == 20


def test_a_watched_folder_replaced_by_a_link_out_of_the_roots_is_not_read(services, clock, tmp_path):
    services.schedules.clock = clock
    version = services.graphs.save(file_graph())
    schedule = services.schedules.create({"name": "x", "graph_id": version.graph_id, "watch_dir": "swap",
                                          "watch_input": "doc"})
    outside = tmp_path / "secretos"
    outside.mkdir()
    (outside / "nomina.pdf").write_bytes(b"%PDF private")
    inbox = Path(schedule.watch_dir)
    inbox.rmdir()
    os.symlink(outside, inbox)  # someone swaps the folder for a link to elsewhere
    assert services.schedules.tick(clock.advance(seconds=1)) == []
    assert services.schedules.tick(clock.advance(seconds=15)) == []
    assert (outside / "nomina.pdf").exists() and not (outside / "processed").exists()
    assert "outside the folders MindDocs may watch" in services.schedules.get(schedule.id).last_error
