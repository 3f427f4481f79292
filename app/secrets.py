"""The secrets vault as a service: named values kept encrypted, revealed only to nodes while they run."""

from __future__ import annotations

import logging
from typing import Any

from graph_runtime.validate import Issue, node_ref, node_title
from nodes.base import NodeError, secret_references
from storage.secrets import (
    SecretBox,
    SecretExists,
    SecretRepository,
    SecretRow,
    SecretUnreadable,
    load_or_create_key,
    parse_key,
    valid_name,
)

from .audit import AuditLog
from .errors import Conflict, InvalidSecret, NotFound, SecretUnavailable
from .policy import Scope
from .settings import Settings

log = logging.getLogger("minddocs")


def secrets_box(settings: Settings) -> SecretBox:
    """The cipher of the secrets vault: MINDDOCS_SECRETS__KEY, else a key generated once into the data dir."""
    if settings.secrets.key is not None:
        return SecretBox(parse_key(settings.secrets.key.get_secret_value()))
    key, created = load_or_create_key(settings.secrets_key_file)
    if created:
        log.warning("No MINDDOCS_SECRETS__KEY is set: generated a secrets key in %s (readable by this user only). "
                    "Back it up with the database: stored secrets cannot be read without it. See docs/secrets.md.",
                    settings.secrets_key_file)
    return SecretBox(key)


class SecretService:
    """Named secrets (API keys, passwords) of one workspace, for the nodes. Values go in; they come out only
    through `reveal`, which the runtime calls while a node runs. Lists show names, descriptions and dates,
    never values. Bound to a Scope: reading names needs `secret.read`, changes `secret.write`."""

    MAX_VALUE_CHARS = 20_000
    MAX_DESCRIPTION_CHARS = 500

    def __init__(self, repo: SecretRepository, box: SecretBox, scope: Scope, audit: AuditLog | None = None):
        self.repo = repo
        self.box = box
        self.scope = scope
        self.audit = audit

    @property
    def workspace_id(self) -> str:
        return self.scope.workspace_id

    def _check(self, name: str, value: str | None, description: str | None) -> None:
        if not valid_name(name):
            raise InvalidSecret(f"'{name[:120]}' is not a usable secret name: use 1 to 100 letters, digits, '_', "
                                "'.' or '-', without spaces (e.g. openai_key).", details={"field": "name"})
        if value is not None and not value:
            raise InvalidSecret("The secret's value is empty; give the key or password to keep.",
                                details={"field": "value"})
        if value is not None and len(value) > self.MAX_VALUE_CHARS:
            raise InvalidSecret(f"The secret's value is longer than {self.MAX_VALUE_CHARS:,} characters; a key or "
                                "password is much shorter.", details={"field": "value"})
        if description is not None and len(description) > self.MAX_DESCRIPTION_CHARS:
            raise InvalidSecret(f"The description is longer than {self.MAX_DESCRIPTION_CHARS} characters; "
                                "shorten it.", details={"field": "description"})

    def _record(self, action: str, name: str) -> None:
        if self.audit is not None:
            self.audit.record(self.scope.actor, action, workspace_id=self.workspace_id, target_type="secret",
                              target_id=name)

    def create(self, name: str, value: str, description: str = "") -> SecretRow:
        self.scope.require("secret.write", what="secret")
        self._check(name, value, description)
        try:
            row = self.repo.create(self.workspace_id, name, self.box.encrypt(name, value), description)
        except SecretExists:
            raise Conflict(f"A secret named '{name}' already exists; replace its value instead, or choose another "
                           "name.", code="secret_exists") from None
        self._record("secret.created", name)
        return row

    def replace(self, name: str, value: str, description: str | None = None) -> SecretRow:
        """Store a new value (and, when given, description) for an existing secret."""
        self.scope.require("secret.write", what="secret")
        self._check(name, value, description)
        row = self.repo.replace(self.workspace_id, name, self.box.encrypt(name, value), description)
        if row is None:
            raise self._missing(name)
        self._record("secret.updated", name)
        return row

    def list(self) -> list[SecretRow]:
        self.scope.require("secret.read", what="secret")
        return self.repo.list(self.workspace_id)

    def names(self) -> set[str]:
        """The names (for pickers and checks before a run: anyone who may run graphs may know them)."""
        self.scope.require("graph.read", what="secret")
        return self.repo.names(self.workspace_id)

    def get(self, name: str) -> SecretRow:
        self.scope.require("secret.read", what="secret")
        row = self.repo.get(self.workspace_id, name)
        if row is None:
            raise self._missing(name)
        return row

    def delete(self, name: str) -> None:
        self.scope.require("secret.write", what="secret")
        if not self.repo.delete(self.workspace_id, name):
            raise self._missing(name)
        self._record("secret.deleted", name)

    @staticmethod
    def _missing(name: str) -> NotFound:
        return NotFound(f"There is no secret named '{name[:120]}'; create it on the Secrets page or with "
                        "POST /api/v1/secrets.")


class SecretReader:
    """What the runtime uses while a node runs: a workspace's secret values. Never behind an API."""

    def __init__(self, repo: SecretRepository, box: SecretBox):
        self.repo = repo
        self.box = box

    def reveal(self, workspace_id: str, name: str) -> str:
        """The value, for the runtime only: never show it, log it or put it in outputs."""
        stored = self.repo.ciphertext(workspace_id, name)
        if stored is None:
            raise SecretService._missing(name)
        try:
            return self.box.decrypt(name, stored)
        except SecretUnreadable as exc:
            raise SecretUnavailable(str(exc)) from None

    def for_nodes(self, workspace_id: str, name: str) -> str | None:
        """`NodeContext.secrets`: the value, None when there is no such secret; an unreadable one is the user's
        to fix (a NodeError, not an unexpected failure)."""
        try:
            return self.reveal(workspace_id, name)
        except NotFound:
            return None
        except SecretUnavailable as exc:
            raise NodeError(exc.message, code="secret_unreadable") from None

    def check_key(self) -> str | None:
        """None when the current key reads the stored secrets; else why not (checked on one secret)."""
        row = self.repo.any()
        if row is None:
            return None
        try:
            self.reveal(*row)
        except SecretUnavailable as exc:
            return exc.message
        return None


def missing_secrets(loaded_nodes: Any, existing: set[str]) -> list[dict[str, Any]]:
    """Issues (as JSON) for node settings that name a secret which does not exist."""
    issues = []
    for node in loaded_nodes:
        if node.config is None:
            continue
        for field, name in secret_references(node.config).items():
            if name not in existing:
                title = node.node_type.Config.model_fields[field].title or field
                issues.append(Issue(
                    "secret_missing", f"Setting '{title}' of {node_title(node.spec, node.node_type)} uses the secret "
                    f"'{name}', which does not exist; create it on the Secrets page (or with POST "
                    "/api/v1/secrets) or choose another secret.", node.spec.id, field,
                    {"node": node_ref(node.spec, node.node_type), "setting": title, "secret": name}).to_json())
    return issues
