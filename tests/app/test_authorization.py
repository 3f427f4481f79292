"""The authorization matrix: every API endpoint × every kind of caller → the status the policy promises.

The endpoints come from the application's own route table (its OpenAPI document): an endpoint that is neither
in ROUTES below (with the permission it needs) nor public (app/web_auth.py PUBLIC_ROUTES) fails the test, so
nobody adds an endpoint without deciding who may call it.

Callers: the workspace's owner, editor, runner and viewer; a member of another workspace; nobody (no
credentials); a holder of a share link (its token as a bearer: not a credential for the API); API tokens —
read-only, revoked, expired. Expected: 401 without valid credentials, 404 for a non-member (the object's
existence is not revealed), 403 for a member whose role or token scope lacks the permission, 404 for a
runner asking for someone else's run, else the call goes through (any status but 401/403/404).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.policy import OWN_ONLY, PERMISSIONS, TOKEN_SCOPE, Role
from app.web_auth import CSRF_HEADER, PUBLIC_ROUTES, SESSION_COOKIE, WORKSPACE_HEADER
from tests.conftest import make_settings
from tests.graphs import graph, node, output

#: (method, path) -> (permission, the path parameter naming an object of the shared workspace, or None)
ROUTES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/api/v1/nodes"): ("graph.read", None),
    ("POST", "/api/v1/graphs/validate"): ("graph.read", None),
    ("GET", "/api/v1/graphs"): ("graph.read", None),
    ("POST", "/api/v1/graphs"): ("graph.write", None),
    ("GET", "/api/v1/graphs/{graph_id}"): ("graph.read", "graph_id"),
    ("PUT", "/api/v1/graphs/{graph_id}"): ("graph.write", "graph_id"),
    ("GET", "/api/v1/graphs/{graph_id}/versions"): ("graph.read", "graph_id"),
    ("POST", "/api/v1/graphs/{graph_id}/runs"): ("run.start", "graph_id"),
    ("GET", "/api/v1/runs"): ("run.read", None),
    ("GET", "/api/v1/runs/{run_id}"): ("run.read", "run_id"),
    ("GET", "/api/v1/runs/{run_id}/outputs/{name}"): ("run.read", "run_id"),
    ("POST", "/api/v1/runs/{run_id}/cancel"): ("run.manage", "run_id"),
    ("POST", "/api/v1/runs/{run_id}/rerun"): ("run.manage", "run_id"),
    ("POST", "/api/v1/runs/{run_id}/resume"): ("run.manage", "run_id"),
    ("GET", "/api/v1/runs/{run_id}/logs"): ("run.read", "run_id"),
    ("POST", "/api/v1/artifacts"): ("artifact.upload", None),
    ("GET", "/api/v1/artifacts/{sha256}"): ("artifact.read", "sha256"),
    ("GET", "/api/v1/secrets"): ("secret.read", None),
    ("POST", "/api/v1/secrets"): ("secret.write", None),
    ("PUT", "/api/v1/secrets/{name}"): ("secret.write", "name"),
    ("DELETE", "/api/v1/secrets/{name}"): ("secret.write", "name"),
    ("GET", "/api/v1/graphs/{graph_id}/webhooks"): ("webhook.read", "graph_id"),
    ("POST", "/api/v1/graphs/{graph_id}/webhooks"): ("webhook.write", "graph_id"),
    ("GET", "/api/v1/webhooks/{webhook_id}"): ("webhook.read", "webhook_id"),
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): ("webhook.write", "webhook_id"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): ("webhook.write", "webhook_id"),
    ("POST", "/api/v1/webhooks/{webhook_id}/secret"): ("webhook.write", "webhook_id"),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): ("webhook.read", "webhook_id"),
    ("GET", "/api/v1/graphs/{graph_id}/hook"): ("webhook.read", "graph_id:hooked"),
    ("POST", "/api/v1/graphs/{graph_id}/hook"): ("webhook.write", "graph_id"),
    ("DELETE", "/api/v1/graphs/{graph_id}/hook"): ("webhook.write", "graph_id:hooked"),
    ("GET", "/api/v1/schedules"): ("schedule.read", None),
    ("POST", "/api/v1/schedules"): ("schedule.write", None),
    ("GET", "/api/v1/schedules/{schedule_id}"): ("schedule.read", "schedule_id"),
    ("PATCH", "/api/v1/schedules/{schedule_id}"): ("schedule.write", "schedule_id"),
    ("DELETE", "/api/v1/schedules/{schedule_id}"): ("schedule.write", "schedule_id"),
    ("POST", "/api/v1/schedules/{schedule_id}/pause"): ("schedule.write", "schedule_id"),
    ("POST", "/api/v1/schedules/{schedule_id}/resume"): ("schedule.write", "schedule_id"),
    ("POST", "/api/v1/schedules/{schedule_id}/run"): ("run.start", "schedule_id"),
    ("GET", "/api/v1/schedules/{schedule_id}/next"): ("schedule.read", "schedule_id"),
    ("GET", "/api/v1/schedules/{schedule_id}/fires"): ("schedule.read", "schedule_id"),
}
#: per-person endpoints: any signed-in caller may use them on their own things (401 without credentials)
PERSONAL: set[tuple[str, str]] = {
    ("GET", "/api/v1/schedules/preview"),  # a timetable preview: nothing stored
    ("GET", "/api/v1/notifications"), ("POST", "/api/v1/notifications/read"),
    ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/{token_id}"),  # test_tokens.py
}
#: endpoints another test file covers in depth, with the reason they are not in the generic matrix
ELSEWHERE: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/deliveries/{delivery_id}/redeliver"): "needs a finished delivery: tests/app/test_webhooks.py",
}


@dataclass
class Caller:
    name: str
    role: Role | None  # in the shared workspace; None: not a member
    headers: dict[str, str]
    cookies: dict[str, str]
    scopes: frozenset[str] | None = None  # an API token's
    valid: bool = True  # False: presents credentials that must be refused (401)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict[str, Any]]:
    settings = make_settings(tmp_path_factory.mktemp("authz") / "data", scheduler={"in_server": False},
                             network={"allowed_hosts": ["127.0.0.1"]},
                             plans={"limits": {"free": {"runs_per_month": None}}})  # the matrix starts ~100 runs
    client = TestClient(create_app(settings))
    with client:
        svc = client.app.state.services
        owner = svc.accounts.setup_admin("owner@example.com", "tall ladder 9876 blue")
        shared = svc.accounts_repo.personal_workspace(owner.id)
        callers = [session_caller(svc, owner, "owner", Role.owner, shared)]
        for role in (Role.editor, Role.runner, Role.viewer):
            user = svc.accounts.create_user(f"{role.value}@example.com", "tall ladder 9876 blue")
            svc.accounts_repo.set_role(shared, user.id, role.value)
            callers.append(session_caller(svc, user, role.value, role, shared))
        outsider = svc.accounts.create_user("outsider@example.com", "tall ladder 9876 blue")
        callers.append(session_caller(svc, outsider, "member of another workspace", None, shared))
        callers.append(Caller("anonymous", None, {WORKSPACE_HEADER: shared}, {}, valid=False))
        callers += token_callers(svc, owner, shared)
        yield {"client": client, "svc": svc, "owner": owner, "shared": shared, "callers": callers}


def session_caller(svc: Any, user: Any, name: str, role: Role | None, shared: str) -> Caller:
    new = svc.accounts.sign_in_user(user.id, ip="127.0.0.1")
    return Caller(name, role, {CSRF_HEADER: new.csrf_token, WORKSPACE_HEADER: shared},
                  {SESSION_COOKIE: new.cookie_value})


def token_callers(svc: Any, owner: Any, shared: str) -> list[Caller]:
    """API tokens of the owner: read-only (403 on changes), revoked and expired (401)."""
    scope = svc.scope_for(_actor(svc, owner), shared)
    _, read = svc.tokens.create(scope, "read only", ["read"])
    revoked_row, revoked = svc.tokens.create(scope, "revoked", ["write"])
    svc.tokens.revoke(scope, revoked_row.id)
    expired_row, expired = svc.tokens.create(scope, "expired", ["write"], expires_days=1)
    svc.tokens.repo.expire_now(expired_row.id) if hasattr(svc.tokens.repo, "expire_now") else None
    callers = [Caller("read-only token", Role.owner, {"Authorization": f"Bearer {read}", WORKSPACE_HEADER: shared},
                      {}, scopes=frozenset({"read"})),
               Caller("revoked token", None, {"Authorization": f"Bearer {revoked}"}, {}, valid=False),
               Caller("share-link token as a bearer", None, {"Authorization": "Bearer not-an-api-token-" + "x" * 40},
                      {}, valid=False)]
    if hasattr(svc.tokens.repo, "expire_now"):
        callers.append(Caller("expired token", None, {"Authorization": f"Bearer {expired}"}, {}, valid=False))
    return callers


def _actor(svc: Any, user: Any) -> Any:
    from app.accounts import actor_for

    return actor_for(user)


def expected(caller: Caller, permission: str, *, own_object: bool | None) -> str:
    """`own_object`: whether the object named in the path is the caller's; None for lists and creations."""
    """'401', '403', '404' or 'ok'."""
    if not caller.valid:
        return "401"
    if caller.role is None:
        return "404"
    if caller.role not in PERMISSIONS[permission]:
        return "403"
    if (caller.role, permission) in OWN_ONLY and own_object is False:
        return "404"
    if caller.scopes is not None and TOKEN_SCOPE[permission] not in _implied(caller.scopes):
        return "403"
    return "ok"


def _implied(scopes: frozenset[str]) -> set[str]:
    out: set[str] = set()
    for scope in scopes:
        out |= {"read": {"read"}, "run": {"read", "run"}, "write": {"read", "run", "write"}}[scope]
    return out


def test_every_endpoint_has_a_policy(world):
    paths = world["client"].app.openapi()["paths"]
    missing = [f"{method.upper()} {path}" for path, operations in paths.items() for method in operations
               if (method.upper(), path) not in ROUTES and (method.upper(), path) not in PUBLIC_ROUTES
               and (method.upper(), path) not in PERSONAL and (method.upper(), path) not in ELSEWHERE
               and (method.upper(), path) not in EXTRA_ROUTES]
    assert not missing, ("These endpoints are in no authorization list: add them to ROUTES (with the permission "
                         f"they check), PERSONAL, or app/web_auth.py PUBLIC_ROUTES: {missing}")


#: routes of the accounts, tokens, share-link and marketplace modules (filled where those modules are)
EXTRA_ROUTES: dict[tuple[str, str], tuple[str, str | None]] = {}


def test_the_matrix(world):
    client, svc = world["client"], world["svc"]
    objects = Objects(svc, world["owner"], world["shared"])
    failures = []
    for (method, template), (permission, param) in {**ROUTES, **EXTRA_ROUTES}.items():
        for caller in world["callers"]:
            path, body = objects.request(method, template, param)
            answer = client.request(method, path, headers=caller.headers, cookies=caller.cookies, **body)
            want = expected(caller, permission, own_object=False if param else None)
            got = answer.status_code
            ok = (got == int(want)) if want != "ok" else got not in (401, 403, 404)
            if not ok:
                failures.append(f"{caller.name:>30}: {method} {template} → {got} (expected {want}) "
                                f"{answer.text[:120]}")
    assert not failures, "\n".join(failures)


def test_anonymous_is_refused_on_personal_endpoints(world):
    client = world["client"]
    for method, path in PERSONAL:
        assert client.request(method, path).status_code == 401, (method, path)


def test_a_runner_sees_only_their_own_runs(world):
    client, svc, shared = world["client"], world["svc"], world["shared"]
    runner = next(c for c in world["callers"] if c.role == Role.runner and c.scopes is None)
    objects = Objects(svc, world["owner"], shared)
    graph_id = objects.fresh("graph_id")
    mine = client.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"a": "x"}}, headers=runner.headers,
                       cookies=runner.cookies)
    assert mine.status_code == 202, mine.text
    others = objects.fresh("run_id")
    listed = client.get("/api/v1/runs", headers=runner.headers, cookies=runner.cookies).json()
    runner_id = svc.accounts.repo.user_by_email("runner@example.com").id
    assert mine.json()["run_id"] in [r["id"] for r in listed] and others not in [r["id"] for r in listed]
    assert {r["owner_id"] for r in listed} == {runner_id}
    assert client.get(f"/api/v1/runs/{others}", headers=runner.headers, cookies=runner.cookies).status_code == 404


class Objects:
    """Fresh objects of the shared workspace, one per request (a DELETE must not spoil the next caller)."""

    def __init__(self, svc: Any, owner: Any, shared: str):
        self.svc = svc
        self.owner_services = svc.acting_as(owner.id, shared)

    def fresh(self, param: str) -> str:
        ws = self.owner_services
        if param == "graph_id":
            spec = graph([node("a", "io.input", name="a"), *output("o", "a", "a", "value")[:1]],
                         [output("o", "a", "a", "value")[1]])
            spec["meta"]["name"] = f"g{time.monotonic_ns()}"
            return ws.graphs.save(spec).graph_id
        if param == "hooked":  # a graph with an inbound hook
            graph_id = self.fresh("graph_id")
            ws.hooks.inbound.rotate(graph_id)
            return graph_id
        if param == "run_id":
            graph_id = self.fresh("graph_id")
            run_id = ws.runs.start(ws.graphs.latest(graph_id).id, {"a": "x"})
            ws.runs.wait(run_id, 30)
            return run_id
        if param == "sha256":
            import io

            return ws.runs.upload(io.BytesIO(b"hello"), name="a.txt").artifact
        if param == "name":
            name = f"s{time.monotonic_ns()}"
            ws.secrets.create(name, "value")
            return name
        if param == "webhook_id":
            return ws.hooks.webhooks.create(self.fresh("graph_id"), "http://127.0.0.1:9/hook").row.id
        if param == "schedule_id":
            return ws.schedules.create({"name": "s", "graph_id": self.fresh("graph_id"), "cron": "0 9 * * *",
                                        "timezone": "UTC", "inputs": {"a": "x"}}).id
        return EXTRA_OBJECTS[param](self)

    def request(self, method: str, template: str, param: str | None) -> tuple[str, dict[str, Any]]:
        values: dict[str, str] = {}
        for needed in ([param] if param else []) + NEEDS.get((method, template), []):
            key, _, variant = needed.partition(":")
            values[key] = self.fresh(variant or key)
        path = template
        for key in ("graph_id", "run_id", "name", "webhook_id", "schedule_id", "sha256", "listing_id",
                    "link_id", "token_id", "workspace_id", "user_id", "invitation_id", "number", "rating_id"):
            if "{" + key + "}" in path:
                values.setdefault(key, self.fresh(key) if key != "name" or "run_id" not in values else "a")
                path = path.replace("{" + key + "}", values[key])
        return path, BODIES.get((method, template), lambda v: {})(values)


#: objects a request body refers to although its path does not name them
NEEDS: dict[tuple[str, str], list[str]] = {("POST", "/api/v1/schedules"): ["graph_id"]}

#: factories for the objects of the other modules' routes (filled where their routes are added above)
EXTRA_OBJECTS: dict[str, Callable[[Objects], str]] = {}

_GRAPH = graph([node("a", "io.input", name="a"), *output("o", "a", "a", "value")[:1]],
               [output("o", "a", "a", "value")[1]])
BODIES: dict[tuple[str, str], Callable[[dict[str, str]], dict[str, Any]]] = {
    ("POST", "/api/v1/graphs/validate"): lambda v: {"json": _GRAPH},
    ("POST", "/api/v1/graphs"): lambda v: {"json": _GRAPH},
    ("PUT", "/api/v1/graphs/{graph_id}"): lambda v: {"json": _GRAPH},
    ("POST", "/api/v1/graphs/{graph_id}/runs"): lambda v: {"json": {"inputs": {"a": "x"}}},
    ("POST", "/api/v1/runs/{run_id}/resume"): lambda v: {"json": {}},
    ("POST", "/api/v1/artifacts"): lambda v: {"files": {"file": ("a.txt", b"hello", "text/plain")}},
    ("POST", "/api/v1/secrets"): lambda v: {"json": {"name": f"n{time.monotonic_ns()}", "value": "v"}},
    ("PUT", "/api/v1/secrets/{name}"): lambda v: {"json": {"value": "new"}},
    ("POST", "/api/v1/graphs/{graph_id}/webhooks"): lambda v: {"json": {"url": "http://127.0.0.1:9/h"}},
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): lambda v: {"json": {"description": "x"}},
    ("POST", "/api/v1/schedules"): lambda v: {"json": {"name": "n", "graph_id": v.get("graph_id") or "",
                                                       "cron": "0 9 * * *", "timezone": "UTC"}},
    ("PATCH", "/api/v1/schedules/{schedule_id}"): lambda v: {"json": {"name": "renamed"}},
}


# --- accounts and workspaces (app/api_accounts.py) -----------------------------------------------------------
# In the matrix the shared workspace is the owner's personal one: deleting it or inviting into it answers 409,
# which counts as "went through" and keeps it for the next caller.
PERSONAL |= {("GET", "/api/v1/me"), ("PATCH", "/api/v1/me"), ("POST", "/api/v1/me/password"),
             ("GET", "/api/v1/workspaces"), ("POST", "/api/v1/workspaces"),
             ("POST", "/api/v1/invitations/accept")}  # made for people not (yet) in the workspace
EXTRA_ROUTES.update({
    ("PATCH", "/api/v1/workspaces/{workspace_id}"): ("workspace.manage", "workspace_id"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}"): ("workspace.manage", "workspace_id"),
    ("GET", "/api/v1/workspaces/{workspace_id}/members"): ("workspace.read", "workspace_id"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/members/{user_id}"): ("members.manage", "user_id"),
    ("DELETE", "/api/v1/workspaces/{workspace_id}/members/{user_id}"): ("members.manage", "user_id"),
    ("GET", "/api/v1/workspaces/{workspace_id}/invitations"): ("members.manage", "workspace_id"),
    ("POST", "/api/v1/workspaces/{workspace_id}/invitations"): ("members.manage", "workspace_id"),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): ("members.manage", "invitation_id"),
    ("GET", "/api/v1/audit"): ("audit.read", None),
})


def _new_member(objects: Objects) -> str:
    """A fresh viewer of the shared workspace (so that changing or removing them spoils no caller)."""
    svc, shared = objects.svc, objects.owner_services.scope.workspace_id
    user = svc.accounts.create_user(f"m{time.monotonic_ns()}@example.com")
    svc.accounts_repo.set_role(shared, user.id, "viewer")
    return user.id


def _new_invitation(objects: Objects) -> str:
    from datetime import timedelta

    from storage.invitations import InvitationRepository
    from storage.models import utcnow

    scope = objects.owner_services.scope
    row, _ = InvitationRepository(objects.svc.db).create(
        workspace_id=scope.workspace_id, email=f"i{time.monotonic_ns()}@example.com", role="viewer",
        token_hash=f"{time.monotonic_ns():064d}", invited_by=scope.user_id, expires_at=utcnow() + timedelta(days=1))
    return row.id


EXTRA_OBJECTS.update({"workspace_id": lambda objects: objects.owner_services.scope.workspace_id,
                      "user_id": _new_member, "invitation_id": _new_invitation})
BODIES.update({
    ("PATCH", "/api/v1/workspaces/{workspace_id}"): lambda v: {"json": {"name": "Personal"}},
    ("PUT", "/api/v1/workspaces/{workspace_id}/members/{user_id}"): lambda v: {"json": {"role": "viewer"}},
    ("POST", "/api/v1/workspaces/{workspace_id}/invitations"): lambda v: {"json": {"email": "x@example.com",
                                                                                   "role": "viewer"}},
})


# --- marketplace (marketplace/api.py) --------------------------------------------------------------------------
# A fresh listing is a workspace listing of the shared workspace published by a member who is none of the callers
# (authors may not rate their own). Public listings are seen by everybody: tests/marketplace/test_api.py.
PERSONAL |= {("GET", "/api/v1/marketplace/listings")}  # search: what the caller may see
_M = "/api/v1/marketplace"
EXTRA_ROUTES.update({
    ("POST", f"{_M}/listings"): ("listing.publish", None),
    ("GET", f"{_M}/listings/{{listing_id}}"): ("graph.read", "listing_id"),
    ("PUT", f"{_M}/listings/{{listing_id}}"): ("listing.publish", "listing_id"),
    ("DELETE", f"{_M}/listings/{{listing_id}}"): ("listing.publish", "listing_id"),
    ("POST", f"{_M}/listings/{{listing_id}}/versions"): ("listing.publish", "listing_id"),
    ("GET", f"{_M}/listings/{{listing_id}}/versions/{{number}}"): ("graph.read", "listing_id"),
    ("PATCH", f"{_M}/listings/{{listing_id}}/versions/{{number}}"): ("listing.publish", "listing_id"),
    ("GET", f"{_M}/listings/{{listing_id}}/versions/{{number}}/preview.svg"): ("graph.read", "listing_id"),
    ("GET", f"{_M}/listings/{{listing_id}}/missing"): ("graph.read", "listing_id"),
    ("POST", f"{_M}/listings/{{listing_id}}/install"): ("listing.install", "listing_id"),
    ("PUT", f"{_M}/listings/{{listing_id}}/rating"): ("listing.review", "listing_id"),
    ("GET", f"{_M}/listings/{{listing_id}}/ratings"): ("graph.read", "listing_id"),
    ("POST", f"{_M}/listings/{{listing_id}}/reports"): ("listing.review", "listing_id"),
    ("GET", f"{_M}/updates"): ("graph.read", None),
    ("POST", f"{_M}/export"): ("graph.read", None),
    ("POST", f"{_M}/import"): ("listing.publish", None),
})
ELSEWHERE.update({
    ("PUT", f"{_M}/listings/{{listing_id}}/ratings/{{rating_id}}/reply"): "the listing's author only: "
                                                                          "tests/marketplace/test_ratings.py",
    ("GET", f"{_M}/reports"): "instance administrators only: tests/marketplace/test_ratings.py",
    ("GET", f"{_M}/installed/{{graph_id}}"): "needs an installed graph: tests/marketplace/test_api.py",
    ("POST", f"{_M}/installed/{{graph_id}}/update"): "needs an installed graph: tests/marketplace/test_api.py",
})


def _listing_author(objects: Objects) -> Any:
    from app.policy import Actor

    if not hasattr(objects, "listing_author"):
        svc, shared = objects.svc, objects.owner_services.scope.workspace_id
        user = svc.accounts.create_user(f"author{time.monotonic_ns()}@example.com")
        svc.accounts_repo.set_role(shared, user.id, "editor")
        objects.listing_author = svc.scope_for(Actor(user_id=user.id, label=user.email), shared)
    return objects.listing_author


def _graph_version(objects: Objects) -> str:
    spec = {**_GRAPH, "meta": {**_GRAPH["meta"], "name": f"g{time.monotonic_ns()}"}}
    return objects.svc.scoped(_listing_author(objects)).graphs.save(spec).id


def _new_listing(objects: Objects) -> str:
    from marketplace.service import ListingForm

    author = _listing_author(objects)
    listing, _ = objects.svc.marketplace.publish(author, _graph_version(objects), ListingForm(title="Team template"))
    return listing.id


_BUNDLE = {"format": "minddocs-marketplace-bundle",
           "listings": [{"id": "b1", "title": "Bundled", "versions": [{"number": 1, "spec": _GRAPH}]}]}
EXTRA_OBJECTS.update({"listing_id": _new_listing, "graph_version_id": _graph_version, "number": lambda o: "1"})
NEEDS.update({("POST", f"{_M}/listings"): ["graph_version_id"],
              ("POST", f"{_M}/listings/{{listing_id}}/versions"): ["graph_version_id"],
              ("POST", f"{_M}/export"): ["listing_id"]})
BODIES.update({
    ("POST", f"{_M}/listings"): lambda v: {"json": {"graph_version_id": v["graph_version_id"], "title": "T"}},
    ("PUT", f"{_M}/listings/{{listing_id}}"): lambda v: {"json": {"title": "Renamed"}},
    ("POST", f"{_M}/listings/{{listing_id}}/versions"): lambda v: {"json": {"graph_version_id":
                                                                             v["graph_version_id"]}},
    ("PATCH", f"{_M}/listings/{{listing_id}}/versions/{{number}}"): lambda v: {"json": {"deprecated": True}},
    ("POST", f"{_M}/listings/{{listing_id}}/install"): lambda v: {"json": {}},
    ("PUT", f"{_M}/listings/{{listing_id}}/rating"): lambda v: {"json": {"stars": 4}},
    ("POST", f"{_M}/listings/{{listing_id}}/reports"): lambda v: {"json": {"reason": "spam"}},
    ("POST", f"{_M}/export"): lambda v: {"json": {"listing_ids": [v["listing_id"]]}},
    ("POST", f"{_M}/import"): lambda v: {"json": _BUNDLE},
})


# --- share links (app/api_share.py; the public /public/share routes: tests/app/test_api_share.py) ---------------
def _new_share_link(objects: Objects) -> str:
    return objects.svc.share_links.create(objects.owner_services.scope, objects.fresh("graph_id")).link.id


EXTRA_ROUTES.update({
    ("GET", "/api/v1/graphs/{graph_id}/share-links"): ("share.read", "graph_id"),
    ("POST", "/api/v1/graphs/{graph_id}/share-links"): ("share.write", "graph_id"),
    ("DELETE", "/api/v1/share-links/{link_id}"): ("share.write", "link_id"),
})
EXTRA_OBJECTS["link_id"] = _new_share_link
BODIES[("POST", "/api/v1/graphs/{graph_id}/share-links")] = lambda v: {"json": {"name": "matrix"}}


# --- plans, quotas and the admin area (app/api_admin.py) ---------------------------------------------------------
EXTRA_ROUTES[("GET", "/api/v1/workspaces/{workspace_id}/usage")] = ("usage.read", "workspace_id")
_ADMIN_ONLY = "instance administrators only (404 for everybody else): tests/app/test_admin.py"
ELSEWHERE.update({(method, f"/api/v1/admin/{path}"): _ADMIN_ONLY for method, path in (
    ("GET", "users"), ("POST", "users"), ("PATCH", "users/{user_id}"), ("POST", "users/{user_id}/reset-link"),
    ("GET", "workspaces"), ("GET", "plans"), ("PUT", "workspaces/{workspace_id}/plan"), ("GET", "queues"),
    ("GET", "runs/failed"), ("GET", "runs/{run_id}"), ("GET", "settings"))})


# --- analytics and the person's own data (app/api_data.py; export and deletion: tests/app/test_lifecycle.py) ---
PERSONAL |= {("GET", "/api/v1/me/export"), ("DELETE", "/api/v1/me")}  # the caller's own account only
EXTRA_ROUTES.update({
    ("GET", "/api/v1/analytics"): ("analytics.read", None),
    ("GET", "/api/v1/graphs/{graph_id}/time-saved"): ("analytics.read", "graph_id"),
    ("PUT", "/api/v1/graphs/{graph_id}/time-saved"): ("graph.write", "graph_id"),
})
BODIES[("PUT", "/api/v1/graphs/{graph_id}/time-saved")] = lambda v: {"json": {"minutes_per_run": 5}}
