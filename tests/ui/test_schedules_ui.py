"""The Schedules page: create with the graph's input form and a cron preview, run now, pause, delete."""

from __future__ import annotations

import pytest

from tests.app.test_schedules import file_graph, text_graph
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def ui_settings(tmp_path):
    # no scheduler thread: what fires here is what the test presses
    return make_settings(tmp_path / "data", scheduler={"in_server": False})


def select(user, marker: str, value) -> None:
    element = next(e for e in user.find(marker).elements if hasattr(e, "set_value"))
    element.set_value(value)


async def test_create_run_now_pause_and_delete_a_schedule(user):
    svc = user.services
    version = svc.graphs.save(text_graph("Saludo"))
    await user.open("/schedules")
    await user.should_see("Aún no hay programaciones.")
    await user.should_see(marker="nav-nav.schedules")

    user.find("new-schedule").click()
    await user.should_see(marker="schedule-cron")
    select(user, "schedule-graph", version.graph_id)
    user.find("schedule-name").type("Buenos días")
    # a wrong timetable is explained right away, in Spanish
    user.find("schedule-cron").clear().type("0 25 * * *")
    await user.should_see("Eso no es un horario")
    user.find("schedule-cron").clear().type("0 8 * * 1-5")
    await user.should_see("A las 08:00, de lunes a viernes")
    await user.should_see("Próximas ejecuciones")
    # the graph's inputs come from the run form: a required one left empty stops the save
    user.find("save-schedule").click()
    await user.should_see("«Who» es obligatorio.")
    user.find("field-who").type("equipo")
    user.find("save-schedule").click()
    await user.should_see(marker="new-schedule")
    [row] = svc.schedules.list()
    assert (row.name, row.cron, row.timezone, row.inputs) == ("Buenos días", "0 8 * * 1-5", "Europe/Madrid",
                                                              {"who": "equipo"})
    await user.should_see("activa")
    await user.should_see(marker=f"next-{row.id}")

    user.find(f"run-{row.id}").click()
    await user.should_see(marker="run-state")  # the new run's page
    fires = svc.schedules.fires(row.id)
    assert [f.kind for f in fires] == ["manual"] and fires[0].run_id
    assert svc.runs.get(fires[0].run_id).inputs == {"who": "equipo"}

    await user.open("/schedules")
    await user.should_see(marker=f"last-run-{row.id}")
    user.find(f"pause-{row.id}").click()
    await user.should_see("en pausa")
    assert svc.schedules.get(row.id).paused
    user.find(f"resume-{row.id}").click()
    await user.should_see("activa")

    user.find(f"delete-{row.id}").click()
    await user.should_see("¿Eliminar la programación «Buenos días»?")
    user.find("confirm-delete").click()
    await user.should_see("Aún no hay programaciones.")
    assert svc.schedules.list() == []


async def test_a_watched_folder_outside_the_roots_is_refused(user):
    svc = user.services
    version = svc.graphs.save(file_graph())
    await user.open("/schedules/new")
    select(user, "schedule-graph", version.graph_id)
    user.find("schedule-name").type("Bandeja")
    select(user, "schedule-kind", "watch")
    await user.should_see(marker="schedule-file-input")
    user.find("schedule-folder").type("/etc")
    user.find("save-schedule").click()
    await user.should_see("La carpeta debe estar dentro de")
    assert svc.schedules.list() == []
    user.find("schedule-folder").clear().type("facturas")
    user.find("save-schedule").click()
    await user.should_see(marker="new-schedule")
    [row] = svc.schedules.list()
    assert row.watch_input == "doc" and row.watch_dir.endswith("/inbox/facturas")
    await user.should_see("vigilando una carpeta")


async def test_edit_keeps_the_inputs_and_changes_the_timetable(user):
    svc = user.services
    version = svc.graphs.save(text_graph("Saludo"))
    row = svc.schedules.create({"name": "Informe", "graph_id": version.graph_id, "inputs": {"who": "equipo"},
                                "cron": "0 8 * * 1-5", "timezone": "Atlantic/Canary", "misfire": "catch_up_one"})
    user.http_client.headers["accept-language"] = "en-US,en;q=0.9"
    await user.open("/schedules")
    await user.should_see("At 08:00, Monday through Friday (Atlantic/Canary) · 0 8 * * 1-5")
    user.find(f"edit-{row.id}").click()
    await user.should_see("Schedule 'Informe'")
    user.find("schedule-cron").clear().type("*/15 9-17 * * *")
    await user.should_see("Every 15 minutes, between 09:00 and 17:59")
    user.find("save-schedule").click()
    await user.should_see(marker="new-schedule")
    changed = svc.schedules.get(row.id)
    assert (changed.cron, changed.timezone, changed.misfire, changed.inputs) == (
        "*/15 9-17 * * *", "Atlantic/Canary", "catch_up_one", {"who": "equipo"})
