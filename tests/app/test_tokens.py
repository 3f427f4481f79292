"""API tokens: personal access tokens, JWT access tokens, the OAuth2 token endpoint and per-token rate limits.

Everything runs through the real services, database, Redis and HTTP app; tokens that must be refused are made
the way an attacker would make them (another key, `alg: none` written by hand, an old time, a bumped epoch).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import update

from app.accounts import actor_for
from app.errors import Forbidden, InvalidRequest, NotFound, NotSignedIn, TooManyRequests
from app.main import create_app
from app.services import Services
from app.tokens import OAuthError, TokenService
from storage.models import ApiToken, utcnow
from tests.conftest import REDIS_URL, make_settings
from tests.graphs import edge, graph, node

PASSWORD = "correct horse battery staple"


def sign_up(services: Services, email: str = "ana@example.com"):
    user = services.accounts.create_user(email, PASSWORD)
    return user, services.scope_for(actor_for(user))


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def refused(tokens: TokenService, bearer: str, code: str) -> str:
    with pytest.raises(NotSignedIn) as caught:
        tokens.authenticate(bearer, ip="10.0.0.1")
    assert caught.value.code == code, caught.value.message
    return caught.value.message


def password_grant(tokens: TokenService, **extra: str) -> dict:
    return tokens.grant({"grant_type": "password", "username": "ana@example.com", "password": PASSWORD, **extra},
                        ip="10.0.0.1")


# --- personal access tokens -------------------------------------------------------------------------------------


def test_create_list_and_revoke_personal_tokens(services):
    user, scope = sign_up(services)
    _, other_scope = sign_up(services, "bea@example.com")
    tokens = services.tokens

    row, plaintext = tokens.create(scope, " CI pipeline ", ["write", "read"], expires_days=30)
    assert plaintext.startswith(f"md_{row.id}_") and len(plaintext.split("_", 2)[2]) >= 43
    assert row.name == "CI pipeline" and row.scopes == ("read", "write") and row.state() == "active"
    assert plaintext.split("_", 2)[2] not in row.secret_hash and len(row.secret_hash) == 64
    assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)

    assert [r.id for r in tokens.list(scope)] == [row.id]
    assert tokens.list(other_scope) == []  # only one's own tokens
    with pytest.raises(NotFound):
        tokens.revoke(other_scope, row.id)

    actor, workspace_id = tokens.authenticate(plaintext, ip="10.0.0.1")
    assert (actor.user_id, actor.kind, actor.label, actor.scopes, actor.token_id) == (
        user.id, "token", "token 'CI pipeline'", frozenset({"read", "write"}), row.id)
    assert workspace_id is None

    revoked = tokens.revoke(scope, row.id)
    assert revoked.state() == "revoked"
    assert "revoked" in refused(tokens, plaintext, "token_revoked")
    tokens.revoke(scope, row.id)  # again: nothing changes, no second audit event

    actions = [e.action for e in services.audit.list(scope)]
    assert actions.count("token.created") == 1 and actions.count("token.revoked") == 1


def test_bad_token_requests_are_refused_with_sentences(services):
    _, scope = sign_up(services)
    _, other_scope = sign_up(services, "bea@example.com")
    tokens = services.tokens
    for kwargs, field in (({"name": "", "scopes": ["read"]}, "name"), ({"name": "x" * 101, "scopes": ["read"]}, "name"),
                          ({"name": "a", "scopes": []}, "scopes"), ({"name": "a", "scopes": ["admin"]}, "scopes"),
                          ({"name": "a", "scopes": ["read"], "expires_days": 0}, "expires_days")):
        with pytest.raises(InvalidRequest) as caught:
            tokens.create(scope, **kwargs)
        assert caught.value.details["field"] == field
    with pytest.raises(NotFound):  # a workspace one is not a member of does not exist
        tokens.create(scope, "a", ["read"], workspace_id=other_scope.workspace_id)
    assert tokens.list(scope) == []


def test_tokens_cannot_create_tokens_and_read_tokens_cannot_revoke(services):
    _, scope = sign_up(services)
    tokens = services.tokens
    _, write_token = tokens.create(scope, "writer", ["write"])
    read_row, read_token = tokens.create(scope, "reader", ["read"])
    as_writer = services.scope_for(tokens.authenticate(write_token, ip="")[0])
    as_reader = services.scope_for(tokens.authenticate(read_token, ip="")[0])

    with pytest.raises(Forbidden, match="cannot create other API tokens"):
        tokens.create(as_writer, "wider", ["write"])
    assert len(tokens.list(as_reader)) == 2
    with pytest.raises(Forbidden, match="'write' scope"):
        tokens.revoke(as_reader, read_row.id)
    assert tokens.revoke(as_writer, read_row.id).state() == "revoked"


def test_expired_wrong_and_malformed_personal_tokens_are_refused(services):
    _, scope = sign_up(services)
    tokens = services.tokens
    row, plaintext = tokens.create(scope, "short-lived", ["read"], expires_days=1)
    tokens.repo.expire_now(row.id)
    assert "expired" in refused(tokens, plaintext, "token_expired")

    _, good = tokens.create(scope, "good", ["read"])
    prefix, token_id, secret = good.split("_", 2)
    wrong_secret = f"{prefix}_{token_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    unknown_id = f"{prefix}_{'0' * 32}_{secret}"
    for bearer in (wrong_secret, unknown_id, "md_", "md_abc", f"md_{token_id}_"):
        refused(tokens, bearer, "invalid_token")
    tokens.authenticate(good, ip="")  # the good one still works


def test_last_used_at_is_written_at_most_once_a_minute(services):
    _, scope = sign_up(services)
    tokens = services.tokens
    row, plaintext = tokens.create(scope, "ci", ["read"])
    assert tokens.repo.api_token(row.id).last_used_at is None
    tokens.authenticate(plaintext, ip="")
    first = tokens.repo.api_token(row.id).last_used_at
    assert first is not None
    tokens.authenticate(plaintext, ip="")
    assert tokens.repo.api_token(row.id).last_used_at == first
    with services.db.session() as s:  # a minute and a bit later
        s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=first - timedelta(seconds=61)))
    tokens.authenticate(plaintext, ip="")
    assert tokens.repo.api_token(row.id).last_used_at > first - timedelta(seconds=1)


def test_a_disabled_account_makes_its_tokens_useless(services):
    user, scope = sign_up(services)
    _, plaintext = services.tokens.create(scope, "ci", ["read"])
    access = password_grant(services.tokens)["access_token"]
    services.accounts_repo.update_user(user.id, is_active=False)
    refused(services.tokens, plaintext, "account_disabled")
    refused(services.tokens, access, "account_disabled")


# --- JWT access tokens ------------------------------------------------------------------------------------------


def test_forged_none_other_algorithm_expired_and_foreign_jwts_are_refused(services):
    user, _ = sign_up(services)
    tokens = services.tokens
    good = password_grant(tokens)["access_token"]
    actor, workspace_id = tokens.authenticate(good, ip="10.0.0.1")
    assert (actor.user_id, actor.label, actor.scopes, workspace_id) == (
        user.id, "jwt", frozenset({"read", "run", "write"}), None)
    claims = claims_of(good)
    assert claims["iss"] == "minddocs" and claims["exp"] - claims["iat"] == 15 * 60 and claims["epoch"] == 0

    forged = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(b"k" * 32), algorithms=["HS256"])
    header, _, signature = good.split(".")
    tampered = f"{header}.{b64({**claims, 'sub': 'someone-else'})}.{signature}"
    alg_none = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    alg_none_upper = f"{b64({'alg': 'None', 'typ': 'JWT'})}.{b64(claims)}."
    hs512 = jwt.encode({"alg": "HS512"}, claims, tokens._key, algorithms=["HS512"])  # the right key, another alg
    foreign = jwt.encode({"alg": "HS256"}, {**claims, "iss": "elsewhere"}, tokens._key, algorithms=["HS256"])
    for bearer in (forged, tampered, alg_none, alg_none_upper, hs512, foreign, "eyJ.eyJ.x", "not-a-token"):
        assert "not valid" in refused(tokens, bearer, "invalid_token")

    past = tokens.issue_access(user, ("read",), workspace_id=None, limit_key="k", now=time.time() - 16 * 60)
    assert "expired" in refused(tokens, past, "token_expired")


def test_a_password_change_or_sign_out_everywhere_kills_access_and_refresh_tokens(services):
    user, _ = sign_up(services)
    tokens = services.tokens
    answer = password_grant(tokens)
    services.accounts_repo.update_user(user.id, bump_epoch=True)
    assert "sign in again" in refused(tokens, answer["access_token"], "token_revoked")
    with pytest.raises(OAuthError) as caught:
        tokens.grant({"grant_type": "refresh_token", "refresh_token": answer["refresh_token"]}, ip="")
    assert caught.value.error == "invalid_grant"


def test_jwt_key_comes_from_the_jwt_secret_or_else_the_secrets_key(tmp_path):
    from app.tokens import jwt_key

    derived = jwt_key(make_settings(tmp_path / "a", secrets={"key": base64.urlsafe_b64encode(b"s" * 32).decode()}))
    again = jwt_key(make_settings(tmp_path / "b", secrets={"key": base64.urlsafe_b64encode(b"s" * 32).decode()}))
    other = jwt_key(make_settings(tmp_path / "c", secrets={"key": base64.urlsafe_b64encode(b"t" * 32).decode()}))
    assert derived.as_dict(private=True)["k"] == again.as_dict(private=True)["k"] != other.as_dict(private=True)["k"]
    assert derived.as_dict(private=True)["k"] != b64(b"s" * 32)  # derived, not the vault's key itself
    configured = jwt_key(make_settings(tmp_path / "d", auth={"jwt_secret": "x" * 40}))
    assert configured.as_dict(private=True)["k"] == b64(b"x" * 40)


# --- OAuth2 grants ----------------------------------------------------------------------------------------------


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(services):
    _, scope = sign_up(services)
    tokens = services.tokens
    first = password_grant(tokens, scope="read run")
    assert first["scope"] == "read run" and first["token_type"] == "Bearer" and first["expires_in"] == 900

    second = tokens.grant({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, ip="")
    assert second["refresh_token"] != first["refresh_token"] and second["scope"] == "read run"
    narrowed = tokens.grant({"grant_type": "refresh_token", "refresh_token": second["refresh_token"],
                             "scope": "read"}, ip="")
    assert narrowed["scope"] == "read"
    assert claims_of(narrowed["access_token"])["lim"] == claims_of(first["access_token"])["lim"]  # one family
    with pytest.raises(OAuthError) as wider:
        tokens.grant({"grant_type": "refresh_token", "refresh_token": narrowed["refresh_token"],
                      "scope": "write"}, ip="")
    assert wider.value.error == "invalid_scope"

    # the first refresh token comes back (stolen): the whole family dies, including the newest one
    with pytest.raises(OAuthError) as reused:
        tokens.grant({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, ip="")
    assert reused.value.error == "invalid_grant" and "already used" in reused.value.description
    with pytest.raises(OAuthError, match="revoked"):
        tokens.grant({"grant_type": "refresh_token", "refresh_token": narrowed["refresh_token"]}, ip="")
    family = tokens.repo.refresh_family(claims_of(first["access_token"])["lim"])
    assert len(family) == 3 and all(r.revoked_at for r in family if r.used_at is None)
    assert "token.refresh_reused" in [e.action for e in services.audit.list(scope)]


@pytest.mark.postgres
def test_a_refresh_token_used_twice_at_once_gives_one_answer_on_postgresql(tmp_path, pg_database):
    import threading
    import uuid

    with Services(make_settings(tmp_path / "data", database_url=pg_database)) as services:
        email = f"race-{uuid.uuid4().hex[:8]}@example.com"
        services.accounts.create_user(email, PASSWORD)
        first = services.tokens.grant({"grant_type": "password", "username": email, "password": PASSWORD}, ip="")
        barrier, results = threading.Barrier(6), []

        def use() -> None:
            barrier.wait()
            try:
                services.tokens.grant({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, ip="")
                results.append("ok")
            except OAuthError as exc:
                results.append(exc.error)

        threads = [threading.Thread(target=use) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        # exactly one request rotated it; the others look like a stolen copy, so the family is revoked
        assert sorted(results) == ["invalid_grant"] * 5 + ["ok"]
        family = services.tokens.repo.refresh_family(claims_of(first["access_token"])["lim"])
        assert len(family) == 2 and sum(r.used_at is not None for r in family) == 1
        assert all(r.revoked_at is not None for r in family if r.used_at is None)  # the winner's new one too


def test_password_grant_refuses_wrong_passwords_and_is_throttled(tmp_path):
    settings = make_settings(tmp_path / "data", auth={"max_failures_per_account": 2})
    with Services(settings) as services:
        sign_up(services)
        tokens = services.tokens
        for _ in range(2):
            with pytest.raises(OAuthError) as wrong:
                tokens.grant({"grant_type": "password", "username": "ana@example.com", "password": "nope"}, ip="")
            assert (wrong.value.error, wrong.value.status) == ("invalid_grant", 400)
        with pytest.raises(OAuthError) as throttled:
            password_grant(tokens)
        assert (throttled.value.error, throttled.value.status) == ("slow_down", 429)
        assert throttled.value.retry_after_s and throttled.value.retry_after_s > 0


def test_client_credentials_give_at_most_the_personal_tokens_scopes(services):
    _, scope = sign_up(services)
    tokens = services.tokens
    workspace = services.accounts_repo.create_workspace("Clínica", scope.user_id)
    row, plaintext = tokens.create(services.scope_for(scope.actor), "robot", ["read", "run"],
                                   workspace_id=workspace.id)
    answer = tokens.grant({"grant_type": "client_credentials", "client_id": row.id, "client_secret": plaintext}, ip="")
    assert answer["scope"] == "read run" and "refresh_token" not in answer
    actor, workspace_id = tokens.authenticate(answer["access_token"], ip="")
    assert actor.scopes == frozenset({"read", "run"}) and workspace_id == workspace.id and actor.token_id == row.id

    basic = tokens.grant({"grant_type": "client_credentials", "scope": "read"}, ip="", basic=(row.id, plaintext))
    assert basic["scope"] == "read"
    for form, error in (({"scope": "write"}, "invalid_scope"), ({"client_id": "0" * 32}, "invalid_client"),
                        ({"client_secret": plaintext[:-2]}, "invalid_client"), ({"client_secret": ""}, "invalid_client")):
        with pytest.raises(OAuthError) as caught:
            tokens.grant({"grant_type": "client_credentials", "client_secret": plaintext, **form}, ip="")
        assert caught.value.error == error

    tokens.revoke(scope, row.id)  # the JWTs made from it stop at once, not in 15 minutes
    refused(tokens, answer["access_token"], "token_revoked")


# --- rate limits ------------------------------------------------------------------------------------------------


def test_rate_limit_in_process(tmp_path):
    with Services(make_settings(tmp_path / "data", auth={"token_rate_per_minute": 3})) as services:
        _, scope = sign_up(services)
        _, plaintext = services.tokens.create(scope, "ci", ["read"])
        _, other = services.tokens.create(scope, "other", ["read"])
        if time.time() % 60 > 57:  # keep the four requests inside one clock minute
            time.sleep(3.5)
        for _ in range(3):
            services.tokens.authenticate(plaintext, ip="")
        with pytest.raises(TooManyRequests) as caught:
            services.tokens.authenticate(plaintext, ip="")
        assert 1 <= caught.value.details["retry_after_s"] <= 60
        services.tokens.authenticate(other, ip="")  # per token


@pytest.mark.redis
def test_rate_limit_in_redis_is_shared_by_processes(tmp_path, redis_namespace):
    settings = make_settings(tmp_path / "data", redis_url=REDIS_URL, broker={"namespace": redis_namespace},
                             auth={"token_rate_per_minute": 3})
    with Services(settings) as services:
        _, scope = sign_up(services)
        row, plaintext = services.tokens.create(scope, "ci", ["read"])
        # a second web process: its own TokenService, the same Redis
        elsewhere = TokenService(settings, services.db, services.accounts_repo, services.audit, services.accounts)
        if time.time() % 60 > 57:
            time.sleep(3.5)
        services.tokens.authenticate(plaintext, ip="")
        elsewhere.authenticate(plaintext, ip="")
        services.tokens.authenticate(plaintext, ip="")
        with pytest.raises(TooManyRequests):
            elsewhere.authenticate(plaintext, ip="")
        client = redis.Redis.from_url(REDIS_URL)
        assert int(client.get(f"{redis_namespace}:rl:{row.id}:{int(time.time() // 60)}")) == 4
        assert 0 < client.ttl(f"{redis_namespace}:rl:{row.id}:{int(time.time() // 60)}") <= 120
        client.close()


# --- through the HTTP API ---------------------------------------------------------------------------------------


def echo_graph() -> dict:
    return graph([node("a", "io.input", name="a"), node("o", "io.output", name="a")], [edge("a", "o", "value", "value")],
                 name="eco")


@pytest.fixture
def api(tmp_path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path / "data", auth={"token_rate_per_minute": 50}))) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_tokens_over_http_and_scopes(api):
    services = api.app.state.services
    sign_up(services)
    session = services.accounts.sign_in("ana@example.com", PASSWORD, ip="testclient")
    api.cookies.set("minddocs_session", session.cookie_value)
    csrf = {"X-CSRF-Token": session.csrf_token}

    made = {}
    for name, scopes in (("writer", ["write"]), ("reader", ["read"]), ("runner", ["run"])):
        answer = api.post("/api/v1/tokens", json={"name": name, "scopes": scopes, "expires_days": 7}, headers=csrf)
        assert answer.status_code == 201, answer.text
        made[name] = answer.json()
        assert made[name]["token"].startswith(f"md_{made[name]['id']}_") and made[name]["state"] == "active"
    assert api.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"]}).status_code == 403  # no CSRF header
    api.cookies.clear()

    listed = api.get("/api/v1/tokens", headers=bearer(made["reader"]["token"]))
    assert listed.status_code == 200 and {t["name"] for t in listed.json()} == {"writer", "reader", "runner"}
    assert all("token" not in t and "secret_hash" not in t for t in listed.json())
    assert api.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"]},
                    headers=bearer(made["writer"]["token"])).status_code == 403

    created = api.post("/api/v1/graphs", json=echo_graph(), headers=bearer(made["writer"]["token"]))
    assert created.status_code == 201, created.text
    graph_id = created.json()["id"]
    reader = bearer(made["reader"]["token"])
    assert [g["id"] for g in api.get("/api/v1/graphs", headers=reader).json()] == [graph_id]
    started = api.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"a": "hola"}}, headers=reader)
    assert started.status_code == 403 and started.json()["code"] == "forbidden"
    assert "'run' scope" in started.json()["message"]
    assert api.post(f"/api/v1/graphs/{graph_id}/runs", json={"inputs": {"a": "hola"}},
                    headers=bearer(made["runner"]["token"])).status_code == 202

    revoked = api.delete(f"/api/v1/tokens/{made['reader']['id']}", headers=bearer(made["writer"]["token"]))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    gone = api.get("/api/v1/graphs", headers=reader)
    assert gone.status_code == 401 and gone.json()["code"] == "token_revoked"
    assert api.get("/api/v1/graphs").status_code == 401
    services.tokens.repo.expire_now(made["runner"]["id"])
    expired = api.get("/api/v1/graphs", headers=bearer(made["runner"]["token"]))
    assert expired.status_code == 401 and expired.json()["code"] == "token_expired"


def test_oauth_token_endpoint_speaks_rfc_6749(api):
    services = api.app.state.services
    _, scope = sign_up(services)
    answer = api.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "ana@example.com",
                                                   "password": PASSWORD, "scope": "read"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert api.get("/api/v1/graphs", headers=bearer(body["access_token"])).status_code == 200
    forged = body["access_token"][:-4] + ("AAAA" if not body["access_token"].endswith("AAAA") else "BBBB")
    assert api.get("/api/v1/graphs", headers=bearer(forged)).json()["code"] == "invalid_token"

    renewed = api.post("/api/v1/oauth/token", data={"grant_type": "refresh_token",
                                                    "refresh_token": body["refresh_token"]})
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != body["refresh_token"]
    reused = api.post("/api/v1/oauth/token", data={"grant_type": "refresh_token",
                                                   "refresh_token": body["refresh_token"]})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert set(reused.json()) == {"error", "error_description"}

    wrong = api.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "ana@example.com",
                                                  "password": "nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert api.post("/api/v1/oauth/token", data={"grant_type": "implicit"}).json()["error"] == "unsupported_grant_type"
    assert api.post("/api/v1/oauth/token", json={"grant_type": "password"}).json()["error"] == "invalid_request"
    bad_client = api.post("/api/v1/oauth/token", data={"grant_type": "client_credentials", "client_secret": "md_x_y"})
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    assert bad_client.headers["www-authenticate"].startswith("Basic")

    row, plaintext = services.tokens.create(scope, "robot", ["read"])
    basic = base64.b64encode(f"{row.id}:{plaintext}".encode()).decode()
    robot = api.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                     headers={"Authorization": f"Basic {basic}"})
    assert robot.status_code == 200 and robot.json()["scope"] == "read" and "refresh_token" not in robot.json()


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    with TestClient(create_app(make_settings(tmp_path / "data", auth={"token_rate_per_minute": 2}))) as api:
        _, scope = sign_up(api.app.state.services)
        _, plaintext = api.app.state.services.tokens.create(scope, "ci", ["read"])
        if time.time() % 60 > 57:
            time.sleep(3.5)
        assert [api.get("/api/v1/graphs", headers=bearer(plaintext)).status_code for _ in range(2)] == [200, 200]
        limited = api.get("/api/v1/graphs", headers=bearer(plaintext))
        assert limited.status_code == 429 and limited.json()["code"] == "too_many_requests"
        assert int(limited.headers["Retry-After"]) == limited.json()["details"]["retry_after_s"] >= 1


@pytest.mark.redis
def test_rate_limit_answers_429_with_redis(tmp_path, redis_namespace):
    settings = make_settings(tmp_path / "data", redis_url=REDIS_URL, broker={"namespace": redis_namespace},
                             auth={"token_rate_per_minute": 2})
    with TestClient(create_app(settings)) as api:
        _, scope = sign_up(api.app.state.services)
        row, plaintext = api.app.state.services.tokens.create(scope, "ci", ["read"])
        if time.time() % 60 > 57:
            time.sleep(3.5)
        codes = [api.get("/api/v1/graphs", headers=bearer(plaintext)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        client = redis.Redis.from_url(REDIS_URL)
        assert client.exists(f"{redis_namespace}:rl:{row.id}:{int(time.time() // 60)}")
        client.close()


def test_a_workspace_bound_token_sees_nothing_outside_its_workspace(api):
    services = api.app.state.services
    user, scope = sign_up(services)
    team = services.accounts_repo.create_workspace("Hotel", user.id)
    scope = services.scope_for(scope.actor)  # now a member of both
    personal_graph = services.scoped(scope).graphs.save(echo_graph()).graph_id
    team_graph = services.scoped(scope.in_workspace(team.id)).graphs.save(echo_graph()).graph_id
    _, bound = services.tokens.create(scope, "hotel only", ["read"], workspace_id=team.id)
    headers = bearer(bound)

    assert [g["id"] for g in api.get("/api/v1/graphs", headers=headers).json()] == [team_graph]
    assert api.get(f"/api/v1/graphs/{team_graph}", headers=headers).status_code == 200
    assert api.get(f"/api/v1/graphs/{personal_graph}", headers=headers).status_code == 404
    other = api.get("/api/v1/graphs", headers={**headers, "X-Workspace": scope.workspace_id})
    assert other.status_code == 404
    # an unbound token reaches both, choosing with X-Workspace
    _, free = services.tokens.create(scope, "anywhere", ["read"])
    assert api.get(f"/api/v1/graphs/{personal_graph}", headers=bearer(free)).status_code == 200
    listed = api.get("/api/v1/graphs", headers={**bearer(free), "X-Workspace": team.id}).json()
    assert [g["id"] for g in listed] == [team_graph]
