"""The secrets vault: named values (API keys, passwords) kept encrypted at rest with AES-256-GCM.

Each value is encrypted with a fresh 12-byte nonce and the secret's name as associated data, so a stored
value cannot be moved to another name. The stored text is `v1.<key id>.<base64(nonce + ciphertext)>`; the
key id (8 hex digits of a hash of the key) tells "the key changed" apart from "the value is damaged".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .db import Database
from .models import Secret

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
_NAME = re.compile(NAME_PATTERN)
KEY_HELP = ("make one with: python -c \"import base64, os; "
            "print(base64.urlsafe_b64encode(os.urandom(32)).decode())\"")


class SecretKeyInvalid(ValueError):
    """The configured key is not 32 bytes of URL-safe base64."""


class SecretUnreadable(Exception):
    """A stored value cannot be decrypted: the key changed, or the stored text is damaged."""


class SecretExists(Exception):
    pass


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name or ""))


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def parse_key(text: str, where: str = "MINDDOCS_SECRETS__KEY") -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        raise SecretKeyInvalid(f"{where} is not a valid secrets key: it must be 32 random bytes written in "
                               f"URL-safe base64 (44 characters); {KEY_HELP}")
    return key


def load_or_create_key(path: Path) -> tuple[bytes, bool]:
    """The key kept in `path`, made (mode 0600) when the file does not exist yet; and whether it was made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_key(path.read_text(encoding="ascii"), where=str(path)), False
    with os.fdopen(fd, "w", encoding="ascii") as f:  # O_EXCL: two processes starting at once make one key
        f.write(generate_key() + "\n")
    return parse_key(path.read_text(encoding="ascii"), where=str(path)), True


class SecretBox:
    """Encrypts and decrypts secret values with one key. Never shows the key."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"minddocs-secrets-key:" + key).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"

    @staticmethod
    def _aad(name: str) -> bytes:
        return b"minddocs-secret:" + name.encode("utf-8")

    def encrypt(self, name: str, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), self._aad(name))
        return f"v1.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, name: str, stored: str) -> str:
        from cryptography.exceptions import InvalidTag

        parts = stored.split(".", 2)  # URL-safe base64 has no '.'
        if len(parts) != 3 or parts[0] != "v1" or not parts[2]:
            raise SecretUnreadable(f"The stored value of secret '{name}' is damaged; store its value again.")
        _, key_id, body = parts
        if key_id != self.key_id:
            raise SecretUnreadable(
                f"The secrets key changed; secret '{name}' was stored with another key and cannot be read. Set "
                "MINDDOCS_SECRETS__KEY back to the key it was stored with (or restore <data_dir>/secret.key), "
                "or store the secret's value again.")
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            return self._aead.decrypt(raw[:12], raw[12:], self._aad(name)).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise SecretUnreadable(f"The stored value of secret '{name}' is damaged; store its value again.") \
                from None


@dataclass(frozen=True)
class SecretRow:
    """What may be shown about a secret: never its value."""

    name: str
    description: str
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives back naive UTC times


def _row(secret: Secret) -> SecretRow:
    return SecretRow(secret.name, secret.description, _utc(secret.created_at), _utc(secret.updated_at))


class SecretRepository:
    """Stores ciphertexts by workspace and name; encryption happens in the caller (`SecretBox`)."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, workspace_id: str, name: str, ciphertext: str, description: str = "") -> SecretRow:
        try:
            with self.db.session() as s:
                if s.scalar(select(Secret.id).where(Secret.workspace_id == workspace_id, Secret.name == name)) is not None:
                    raise SecretExists(name)
                secret = Secret(workspace_id=workspace_id, name=name, ciphertext=ciphertext, description=description)
                s.add(secret)
                s.flush()
                return _row(secret)
        except IntegrityError:  # created by someone else between the check and the insert
            raise SecretExists(name) from None

    def replace(self, workspace_id: str, name: str, ciphertext: str, description: str | None = None) -> SecretRow | None:
        with self.db.session() as s:
            secret = s.scalar(select(Secret).where(Secret.workspace_id == workspace_id, Secret.name == name))
            if secret is None:
                return None
            secret.ciphertext = ciphertext
            if description is not None:
                secret.description = description
            s.flush()
            return _row(secret)

    def get(self, workspace_id: str, name: str) -> SecretRow | None:
        with self.db.read() as s:
            secret = s.scalar(select(Secret).where(Secret.workspace_id == workspace_id, Secret.name == name))
            return _row(secret) if secret else None

    def list(self, workspace_id: str) -> list[SecretRow]:
        with self.db.read() as s:
            return [_row(secret) for secret in s.scalars(select(Secret).where(Secret.workspace_id == workspace_id)
                                                         .order_by(Secret.name))]

    def names(self, workspace_id: str) -> set[str]:
        with self.db.read() as s:
            return set(s.scalars(select(Secret.name).where(Secret.workspace_id == workspace_id)))

    def ciphertext(self, workspace_id: str, name: str) -> str | None:
        with self.db.read() as s:
            return s.scalar(select(Secret.ciphertext).where(Secret.workspace_id == workspace_id, Secret.name == name))

    def delete(self, workspace_id: str, name: str) -> bool:
        with self.db.session() as s:
            return bool(s.execute(delete(Secret).where(Secret.workspace_id == workspace_id, Secret.name == name)).rowcount)

    def any(self) -> tuple[str, str] | None:
        """(workspace id, name) of one stored secret, to check the key against."""
        with self.db.read() as s:
            row = s.execute(select(Secret.workspace_id, Secret.name).limit(1)).first()
            return (row[0], row[1]) if row else None
