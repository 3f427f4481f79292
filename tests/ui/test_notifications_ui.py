"""The notification bell (live, without polling), the notifications page and the webhooks page."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.graphs import graph, node, output

pytestmark = pytest.mark.anyio


@pytest.fixture
def ui_settings(tmp_path):
    return make_settings(tmp_path / "data", load_samples=False, network={"allowed_hosts": ["127.0.0.1"]},
                         notifications={"retry_delays_s": [60]})


def echo_graph() -> dict:
    out, wire = output("out", "greeting", "in", "value")
    return graph([node("in", "io.input", name="name", kind="text"), out], [wire], name="Saludo")


async def test_the_bell_counts_a_run_that_ends_while_the_page_is_open_and_the_list_marks_it_read(user):
    version = user.services.graphs.save(echo_graph())
    await user.open("/")
    await user.should_see(marker="bell")
    await user.should_not_see(marker="bell-count")

    # When: a run ends in the background (no page action); Then: the open page's bell shows it
    run_id = user.services.runs.start(version.id, {"name": "Ana"})
    await user.should_see("1", marker="bell-count", retries=100)
    await user.should_see("Una ejecución de 'Saludo' terminó.")

    user.find("bell").click()
    await user.should_see("Notificaciones", marker="page-title")
    await user.should_see("La ejecución de 'Saludo' terminó")
    [row] = user.services.hooks.notifications.list()
    assert row.run_id == run_id and not row.read
    user.find("mark-all-read").click()
    await user.should_not_see(marker="bell-count")
    assert user.services.hooks.notifications.unread() == 0


async def test_webhooks_page_adds_a_webhook_shows_its_secret_once_and_creates_the_inbound_address(user):
    version = user.services.graphs.save(echo_graph())
    await user.open(f"/graphs/{version.graph_id}/webhooks")
    await user.should_see("Este grafo aún no tiene webhooks.")

    user.find("webhook-url").type("http://10.1.2.3/hook")
    user.find("add-webhook").click()
    await user.should_see("MINDDOCS_NETWORK__ALLOWED_HOSTS")
    assert user.services.hooks.webhooks.list(version.graph_id) == []

    user.find("webhook-url").clear().type("http://127.0.0.1:9/hook")
    user.find("add-webhook").click()
    await user.should_see("Copie ahora el secreto de firma: no se volverá a mostrar.")
    [hook] = user.services.hooks.webhooks.list(version.graph_id)
    secret = user.services.secret_reader.reveal(user.services.local_scope.workspace_id, hook.secret_name)
    assert user.find("secret-value").elements.pop().value == secret
    user.find("secret-close").click()
    await user.should_see(marker=f"webhook-{hook.id}")
    await user.should_see("Aún no se ha enviado nada.")

    user.find("create-inbound").click()
    await user.should_see(marker="inbound-url")
    inbound = user.services.hooks.inbound.get(version.graph_id)
    assert inbound is not None
    await user.should_see(f"http://127.0.0.1:8080/api/v1/hooks/{inbound.token}", marker="inbound-url")
