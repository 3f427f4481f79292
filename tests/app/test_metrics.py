"""Prometheus metrics at /metrics: runs, node runs, cache reuse, queue depth and HTTP latency, after real runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from app.services import Services
from tests.app.tcp_proxy import tcp_proxy
from tests.conftest import REDIS_URL, make_settings, sign_in
from tests.graphs import graph, node, output

NODE_MODULES = ["tests.plugin_nodes", "tests.app.log_nodes"]


def scrape(client: TestClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@contextmanager
def app_client(tmp_path: Path, **overrides) -> Iterator[tuple[TestClient, Services]]:
    settings = make_settings(tmp_path / "data", runtime={"node_modules": NODE_MODULES}, **overrides)
    services = Services(settings)
    with TestClient(create_app(settings, services)) as client:
        yield client, services


def sleep_graph(name: str, **config) -> dict:
    out, out_edge = output("out", "text", "a")
    return graph([node("a", "test.sleep", **config), out], [out_edge], name=name)


def test_runs_node_durations_and_reuse_are_counted_after_real_runs(tmp_path):
    with app_client(tmp_path) as (client, services):
        before = scrape(client)
        good = services.graphs.save(sleep_graph("metrics ok", cacheable=True, seconds=0.02))
        fail_out, fail_edge = output("out", "text", "bad")
        bad = services.graphs.save(graph([node("bad", "test.fail"), fail_out], [fail_edge], name="metrics bad"))

        # When the cacheable graph runs twice (the second run reuses the node's result) and a failing one once
        for version in (good, good, bad):
            run_id = services.runs.start(version.id, {})
            services.runs.wait(run_id, timeout_s=30)
        after = scrape(client)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        # Then runs count by graph id and ending
        assert delta("minddocs_runs_started_total", graph=good.graph_id) == 2
        assert delta("minddocs_runs_finished_total", graph=good.graph_id, state="succeeded") == 2
        assert delta("minddocs_runs_started_total", graph=bad.graph_id) == 1
        assert delta("minddocs_runs_finished_total", graph=bad.graph_id, state="failed") == 1
        # node runs by type and state; the reused one is not timed
        assert delta("minddocs_node_runs_total", node_type="test.sleep", state="succeeded") == 2
        assert delta("minddocs_node_runs_reused_total", node_type="test.sleep") == 1
        assert delta("minddocs_node_runs_total", node_type="test.fail", state="failed") == 1
        timed = dict(node_type="test.sleep", state="succeeded")
        assert delta("minddocs_node_duration_seconds_count", **timed) == 1
        assert delta("minddocs_node_duration_seconds_sum", **timed) >= 0.02
        assert delta("minddocs_node_duration_seconds_count", node_type="test.fail", state="failed") == 1
        # the histogram has its buckets, cumulative up to +Inf (= the count)
        buckets = {dict(labels)["le"]: v for (name, labels), v in after.items()
                   if name == "minddocs_node_duration_seconds_bucket" and dict(labels)["node_type"] == "test.sleep"
                   and dict(labels)["state"] == "succeeded"}
        assert {"0.01", "0.05", "0.1", "1.0", "60.0", "1800.0", "+Inf"} <= set(buckets)
        assert buckets["0.01"] <= buckets["0.05"] <= buckets["1.0"] <= buckets["+Inf"]
        assert buckets["+Inf"] == value(after, "minddocs_node_duration_seconds_count", **timed)
        # the cache hit ratio the docs give: reused / ended (not skipped)
        reused = delta("minddocs_node_runs_reused_total", node_type="test.sleep")
        ended = delta("minddocs_node_runs_total", node_type="test.sleep", state="succeeded")
        assert reused / ended == 0.5


def test_http_latency_is_recorded_by_route_template_and_status(tmp_path):
    with app_client(tmp_path) as (client, services):
        sign_in(client, services)
        run_id = services.runs.start(services.graphs.save(sleep_graph("http")).id, {})
        services.runs.wait(run_id, timeout_s=30)
        before = scrape(client)
        assert client.get(f"/api/v1/runs/{run_id}").status_code == 200
        assert client.get("/api/v1/runs/no-such-run").status_code == 404
        assert client.get("/api/v1/no-such-endpoint").status_code == 404
        assert client.get("/openapi.json").status_code == 200
        after = scrape(client)

    def delta(route: str, status: str) -> float:
        labels = dict(method="GET", route=route, status=status)
        return (value(after, "minddocs_http_request_duration_seconds_count", **labels)
                - value(before, "minddocs_http_request_duration_seconds_count", **labels))

    # the template, not the run id: one series for every run
    assert delta("/api/v1/runs/{run_id}", "200") == 1
    assert delta("/api/v1/runs/{run_id}", "404") == 1
    assert delta("/api/{path:path}", "404") == 1
    assert delta("/openapi.json", "200") == 1  # a route that leaves only its endpoint in the ASGI scope
    assert not any(run_id in dict(labels).get("route", "") for _, labels in after)
    assert value(after, "minddocs_http_request_duration_seconds_bucket", method="GET",
                 route="/api/v1/runs/{run_id}", status="200", le="+Inf") >= 1


def test_embedded_queue_depth_is_the_in_process_pending_count(tmp_path):
    with app_client(tmp_path) as (client, _services):
        samples = scrape(client)
    assert value(samples, "minddocs_broker_up") == 1
    for queue in ("default", "documents", "media"):
        assert (("minddocs_queue_depth", (("queue", queue),)) in samples)
        assert value(samples, "minddocs_queue_depth", queue=queue) == 0


@pytest.mark.redis
def test_queue_depth_counts_the_messages_waiting_in_redis(tmp_path, redis_namespace):
    # Given MindDocs on Redis with no worker running
    with app_client(tmp_path, redis_url=REDIS_URL, broker={"namespace": redis_namespace}) as (client, services):
        before = scrape(client)
        assert value(before, "minddocs_broker_up") == 1
        assert value(before, "minddocs_queue_depth", queue="default") == 0
        # When two runs start, their first nodes wait in the "default" queue
        version = services.graphs.save(sleep_graph("queued"))
        for _ in range(2):
            services.runs.start(version.id, {})
        after = scrape(client)
    # Then the queue depth says so
    assert value(after, "minddocs_queue_depth", queue="default") == 2
    assert value(after, "minddocs_queue_unfinished", queue="default") == 2
    assert value(after, "minddocs_queue_depth", queue="media") == 0


@pytest.mark.redis
def test_a_broker_that_stops_answering_shows_as_down_and_the_scrape_still_works(tmp_path, redis_namespace):
    redis = urlsplit(REDIS_URL)
    with tcp_proxy(redis.hostname, redis.port) as proxy, app_client(
            tmp_path, redis_url=f"redis://127.0.0.1:{proxy.port}/0", broker={"namespace": redis_namespace}
    ) as (client, _services):
        assert value(scrape(client), "minddocs_broker_up") == 1
        # When Redis goes away under the running app
        proxy.cut()
        samples = scrape(client)
    # Then the scrape still answers, saying the broker is down
    assert value(samples, "minddocs_broker_up") == 0
    assert not any(name == "minddocs_queue_depth" for name, _ in samples)


def test_graph_labels_are_bounded(tmp_path):
    with app_client(tmp_path, observability={"max_graph_labels": 1}) as (client, services):
        before = scrape(client)
        first = services.graphs.save(sleep_graph("first"))
        second = services.graphs.save(sleep_graph("second"))
        for version in (first, second):
            services.runs.wait(services.runs.start(version.id, {}), timeout_s=30)
        after = scrape(client)
    assert value(after, "minddocs_runs_started_total", graph=first.graph_id) == 1
    assert value(after, "minddocs_runs_started_total", graph=second.graph_id) == 0
    assert (value(after, "minddocs_runs_started_total", graph="other")
            - value(before, "minddocs_runs_started_total", graph="other")) == 1


def test_metrics_token_is_required_when_set(tmp_path):
    with app_client(tmp_path, observability={"metrics_token": "s3cret-metrics"}) as (client, _services):
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert "MINDDOCS_OBSERVABILITY__METRICS_TOKEN" in refused.json()["message"]
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert "minddocs_queue_depth" in client.get(
            "/metrics", headers={"Authorization": "Bearer s3cret-metrics"}).text
    with app_client(tmp_path / "off", observability={"metrics": False}) as (client, _services):
        assert client.get("/metrics").status_code == 404
