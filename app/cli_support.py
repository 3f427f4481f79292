"""What the `minddocs` sub-commands share: the consoles, failing with a sentence, the services of the
server's console, and finding an account by email."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from .errors import AppError
from .settings import Settings

if TYPE_CHECKING:
    from storage.accounts import UserRow

    from .services import Services

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]Error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def console_services() -> Iterator[Services]:
    """The services, acting as the system (the person at the server's console); AppErrors end as sentences."""
    from .services import Services

    services = Services(Settings(load_samples=False))
    try:
        yield services
    except AppError as exc:
        fail(exc.message, 2)
    finally:
        services.close()


def account(services: Services, email: str) -> UserRow:
    user = services.accounts_repo.user_by_email(email.strip())
    if user is None or not user.claimed:
        fail(f"There is no account for {email.strip()}; see them with: minddocs user list", 2)
    assert user is not None
    return user
