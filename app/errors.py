"""Errors that reach people: one class per kind, each turned into `{code, message, details}`."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class NotFound(AppError):
    status = 404
    code = "not_found"


class InvalidGraph(AppError):
    status = 422
    code = "invalid_graph"


class InvalidInputs(AppError):
    status = 422
    code = "invalid_inputs"


class InvalidRequest(AppError):
    """A request parameter or header that is not usable (a bad cursor, a malformed If-Match...)."""

    status = 422
    code = "invalid_request"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class TooLarge(AppError):
    status = 413
    code = "too_large"


class Conflict(AppError):
    status = 409
    code = "conflict"


class InvalidSecret(AppError):
    status = 422
    code = "invalid_secret"


class SecretUnavailable(AppError):
    """A stored secret cannot be read (the secrets key changed, or the value is damaged)."""

    status = 409
    code = "secret_unreadable"


class Unauthorized(AppError):
    """A signed request (inbound webhook) whose signature is missing, wrong, old or replayed."""

    status = 401
    code = "bad_signature"


class InvalidWebhook(AppError):
    status = 422
    code = "invalid_webhook"


class NotSignedIn(AppError):
    """No valid session, token or key came with a request that needs one (or it expired, or was revoked)."""

    status = 401
    code = "not_signed_in"


class Forbidden(AppError):
    """Signed in and a member of the workspace, but the role or the token's scopes do not allow this."""

    status = 403
    code = "forbidden"


class TooManyRequests(AppError):
    """A rate limit or a sign-in throttle: `details.retry_after_s` says when to try again."""

    status = 429
    code = "too_many_requests"


class InvalidAccount(AppError):
    """A sign-up, password or account change that cannot be accepted (weak password, taken email...)."""

    status = 422
    code = "invalid_account"


class QuotaExceeded(AppError):
    """A limit of the workspace's plan is reached (app/quotas.py): `details` = {limit, used, plan, ...}.
    402, not 429: trying again does not help until the month turns, something is deleted or the plan changes."""

    status = 402
    code = "quota_exceeded"
