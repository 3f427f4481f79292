"""Property-based check of the whole REST API with schemathesis: requests generated from the OpenAPI schema
against the real app on a uvicorn server; no answer may be a 5xx, an undocumented status or content type, or
a body that breaks the schema it documents.

Random ids mostly meet 404s, so each operation whose path names a graph, a run, an output or a stored file
is also tried with real ones (a sample graph, one of its finished runs, an uploaded file)."""

from __future__ import annotations

import time

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.services import Services
from tests.app.live_server import live_server
from tests.conftest import api_token, make_settings

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
NEGATIVE_CHECKS = [not_a_server_error, response_schema_conformance]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
EXAMPLES = 8  # per operation and pass: the whole run stays well under a minute on two cores


def real_ids(url: str, headers: dict[str, str]) -> dict[str, str]:
    with httpx.Client(base_url=f"{url}/api/v1", headers=headers) as http:
        letter = next(g for g in http.get("/graphs").json() if g["name"].startswith("Carta"))
        run_id = http.post(f"/graphs/{letter['id']}/runs", json={"inputs": {"client_name": "Ana"}}).json()["run_id"]
        for _ in range(200):
            if http.get(f"/runs/{run_id}").json()["state"] == "succeeded":
                break
            time.sleep(0.05)
        ref = http.post("/artifacts", files={"file": ("a.txt", b"hola", "text/plain")}).json()
    return {"graph_id": letter["id"], "run_id": run_id, "name": "letter", "sha256": ref["artifact"]}


def fuzz(operation, mode: GenerationMode, path_parameters: dict[str, str], url: str,
         headers: dict[str, str]) -> None:
    checks = CHECKS if mode is POSITIVE else NEGATIVE_CHECKS

    @given(case=operation.as_strategy(mode, path_parameters=path_parameters or None))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(base_url=url, checks=checks, timeout=20, headers=headers)

    check()


def test_no_server_errors_and_bodies_match_the_schema(tmp_path):
    settings_ = make_settings(tmp_path / "data", load_samples=True, storage={"max_upload_mb": 1})
    services = Services(settings_)  # an account and its token, in the database the server opens
    headers = {"Authorization": f"Bearer {api_token(services)}"}
    services.close()
    with live_server(settings_) as url:
        ids = real_ids(url, headers)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 20
        failures = []
        for operation in operations:
            names = {p.name for p in operation.path_parameters}
            passes = [{}] + ([{n: ids[n] for n in names}] if names and names <= set(ids) else [])
            # valid requests with random and real ids, then invalid ones (which must be refused, not crash)
            for mode, path_parameters in [*((POSITIVE, p) for p in passes), (NEGATIVE, passes[-1])]:
                try:
                    fuzz(operation, mode, path_parameters, url, headers)
                except Unsatisfiable:
                    assert mode is NEGATIVE  # nothing of this operation's request can be made invalid
                except Exception as exc:  # noqa: BLE001  (every operation's failure, reported at once)
                    failures.append(f"{mode.value} {operation.method.upper()} {operation.path} "
                                    f"{path_parameters}: {exc}")
        assert not failures, "\n\n".join(failures)
