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


class TooLarge(AppError):
    status = 413
    code = "too_large"
