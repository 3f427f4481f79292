"""Password hashes (argon2id through argon2-cffi) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import InvalidAccount

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
#: a valid hash of nothing anybody knows: verifying against it when an account does not exist takes as long
#: as a real check, so the answer time does not tell which emails have accounts
_DUMMY = _hasher.hash("minddocs: no such account")
MAX_LENGTH = 256
COMMON = frozenset({"password", "password1", "contraseña", "contrasena", "1234567890", "12345678910",
                    "qwertyuiop", "iloveyou12", "abc1234567", "minddocs123", "administrator", "123456789a"})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a wrong one, a missing hash (OIDC-only account) or garbage."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_policy(password: str, *, email: str = "", min_length: int = 10) -> None:
    """InvalidAccount (code weak_password) with a sentence when the password is too weak."""
    problem = None
    if len(password) < min_length:
        problem = f"The password must have at least {min_length} characters."
    elif len(password) > MAX_LENGTH:
        problem = f"The password may have at most {MAX_LENGTH} characters."
    elif password.casefold() in COMMON or len(set(password)) < 4:
        problem = "This password is too easy to guess; choose a longer one with words only you would think of."
    elif email and email.split("@")[0].casefold() in password.casefold() and len(email.split("@")[0]) >= 4:
        problem = "The password must not contain your email name."
    if problem:
        raise InvalidAccount(problem, code="weak_password", details={"min_length": min_length})
