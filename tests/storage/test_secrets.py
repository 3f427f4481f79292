"""The secrets vault on SQLite and PostgreSQL: encrypted at rest, values never listed, clear errors."""

from __future__ import annotations

import logging
import stat
import uuid

import pytest
from sqlalchemy import text

from app.errors import Conflict, InvalidSecret, NotFound, SecretUnavailable
from app.secrets import SecretService
from app.services import Services
from nodes.base import SECRET_NAME_PATTERN, NodeError
from storage.db import Database
from storage.migrate import upgrade
from storage.secrets import (
    NAME_PATTERN,
    SecretBox,
    SecretKeyInvalid,
    SecretRepository,
    generate_key,
    load_or_create_key,
    parse_key,
)
from tests.conftest import make_settings

VALUE = "sk-live-8d1f0c-plaintext-value"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'v.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()


class Vault:
    """A workspace's secrets as the services see them: the scoped service, and the runtime's reader."""

    def __init__(self, db: Database, key: str | None):
        from app.policy import Actor, Scope
        from app.secrets import SecretReader
        from storage.accounts import AccountRepository

        if not hasattr(db, "test_workspace"):  # one workspace per database, shared by the vaults of a test
            accounts = AccountRepository(db)
            user = accounts.create_user(f"{uuid.uuid4().hex[:8]}@example.com")
            db.test_workspace = (user.id, accounts.personal_workspace(user.id))  # type: ignore[attr-defined]
        user_id, self.ws = db.test_workspace  # type: ignore[attr-defined]
        self.repo = SecretRepository(db)
        self.box = SecretBox(parse_key(key or generate_key()))
        self.service = SecretService(self.repo, self.box, Scope(Actor.system(user_id), self.ws))
        self.reader = SecretReader(self.repo, self.box)

    def __getattr__(self, name: str):
        return getattr(self.service, name)

    def reveal(self, name: str) -> str:
        return self.reader.reveal(self.ws, name)

    def for_nodes(self, name: str) -> str | None:
        return self.reader.for_nodes(self.ws, name)

    def check_key(self) -> str | None:
        return self.reader.check_key()


def vault(db: Database, key: str | None = None) -> Vault:
    return Vault(db, key)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared by the session's tests


def test_create_list_replace_reveal_delete(db):
    secrets = vault(db)
    name = unique("openai")

    created = secrets.create(name, VALUE, "Key for the marketing account")
    listed = {row.name: row for row in secrets.list()}
    secrets.replace(name, "sk-second-value")
    replaced = secrets.get(name)

    assert created.name == name and created.description == "Key for the marketing account"
    assert VALUE not in repr(listed[name]) and "value" not in listed[name].to_json()
    assert secrets.reveal(name) == "sk-second-value"
    assert replaced.description == "Key for the marketing account"  # no new description: kept
    assert replaced.updated_at >= created.updated_at
    secrets.delete(name)
    assert name not in secrets.names()
    with pytest.raises(NotFound, match=f"no secret named '{name}'"):
        secrets.reveal(name)
    with pytest.raises(NotFound):
        secrets.delete(name)


def test_the_value_is_encrypted_at_rest(db):
    secrets = vault(db)
    name = unique("smtp")
    secrets.create(name, VALUE)

    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT ciphertext FROM secrets WHERE name = :n"), {"n": name}).scalar_one()
        dump = " ".join(str(v) for row in connection.execute(text("SELECT * FROM secrets")) for v in row)

    assert VALUE not in dump and VALUE not in stored
    assert stored.startswith(f"v1.{secrets.box.key_id}.")
    # the same value stored twice gives two different ciphertexts (a fresh nonce each time)
    secrets.replace(name, VALUE)
    assert secrets.repo.ciphertext(secrets.ws, name) != stored


def test_duplicate_and_malformed_names_and_empty_values_are_refused(db):
    secrets = vault(db)
    name = unique("dup")
    secrets.create(name, "one")

    with pytest.raises(Conflict, match="already exists"):
        secrets.create(name, "two")
    for bad in ("", "has space", "semi;colon", "x" * 101, "ñandú"):
        with pytest.raises(InvalidSecret, match="not a usable secret name"):
            secrets.create(bad, "v")
    with pytest.raises(InvalidSecret, match="value is empty"):
        secrets.create(unique("empty"), "")
    with pytest.raises(NotFound):
        secrets.replace(unique("absent"), "v")
    assert secrets.reveal(name) == "one"


def test_a_changed_key_is_a_clear_error_not_a_crash(db):
    name = unique("pdf")
    vault(db).create(name, VALUE)
    other = vault(db)  # same database, another key

    with pytest.raises(SecretUnavailable) as caught:
        other.reveal(name)
    with pytest.raises(NodeError) as in_a_node:
        other.for_nodes(name)

    assert caught.value.message.startswith("The secrets key changed;")
    assert "MINDDOCS_SECRETS__KEY" in caught.value.message and VALUE not in caught.value.message
    assert in_a_node.value.code == "secret_unreadable"
    assert other.check_key() is not None


def test_a_value_cannot_be_moved_to_another_name(db):
    secrets = vault(db)
    a, b = unique("a"), unique("b")
    secrets.create(a, "value-of-a")
    secrets.create(b, "value-of-b")
    with db.begin() as connection:  # someone with database access swaps the stored texts
        connection.execute(text("UPDATE secrets SET ciphertext = :c WHERE name = :n"),
                           {"c": secrets.repo.ciphertext(secrets.ws, a), "n": b})

    with pytest.raises(SecretUnavailable, match="damaged"):
        secrets.reveal(b)


def test_generated_key_file_is_private_and_reused(tmp_path, caplog):
    settings = make_settings(tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="minddocs"), Services(settings) as svc:
        svc.secrets.create("smtp_password", VALUE)
    key_file = settings.secrets_key_file

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "generated a secrets key" in caplog.text and str(key_file) in caplog.text
    with Services(settings) as again:  # a restart reads the same key
        assert again.secret_reader.reveal(again.local_scope.workspace_id, "smtp_password") == VALUE
    assert load_or_create_key(key_file)[1] is False


def test_configured_key_is_used_and_a_wrong_one_is_reported_on_start(tmp_path, caplog):
    key = generate_key()
    with Services(make_settings(tmp_path / "data", secrets={"key": key})) as svc:
        svc.secrets.create("webhook", VALUE)
    assert not (tmp_path / "data" / "secret.key").exists()

    with caplog.at_level(logging.ERROR, logger="minddocs"), \
            Services(make_settings(tmp_path / "data", secrets={"key": generate_key()})) as svc, \
            pytest.raises(SecretUnavailable, match="The secrets key changed"):
        svc.secret_reader.reveal(svc.local_scope.workspace_id, "webhook")
    assert "The secrets key changed" in caplog.text


@pytest.mark.parametrize("key", ["short", "not base64 at all!!", "A" * 44 + "=="])
def test_malformed_key_setting_says_how_to_make_one(tmp_path, key):
    with pytest.raises(SecretKeyInvalid, match="MINDDOCS_SECRETS__KEY is not a valid secrets key.*urlsafe_b64encode"):
        Services(make_settings(tmp_path / "data", secrets={"key": key}))


def test_node_and_storage_agree_on_names():
    assert SECRET_NAME_PATTERN == NAME_PATTERN
