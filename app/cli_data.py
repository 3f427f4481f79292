"""`minddocs data ...`: the data lifecycle from the server's command line — sweep old and orphaned files,
export a person's data, delete a person and their data. Registered in app/cli.py. See docs/data.md."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from .errors import AppError
from .settings import Settings

if TYPE_CHECKING:
    from .services import Services

data_cli = typer.Typer(help="Data lifecycle: sweep old and orphaned files, export or delete a person's data.",
                       no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]Error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _services() -> Iterator[Services]:
    from .services import Services

    services = Services(Settings(load_samples=False))
    try:
        yield services
    except AppError as exc:
        _fail(exc.message, 2)
    finally:
        services.close()


def _user_id(services: Services, email: str) -> str:
    user = services.accounts_repo.user_by_email(email.strip())
    if user is None or not user.claimed:
        _fail(f"There is no account for {email.strip()}; see them with: minddocs user list", 2)
    assert user is not None
    return user.id


@data_cli.command("sweep")
def sweep(dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; remove nothing")) -> None:
    """Apply retention (retention.artifact_days) and remove stored files nothing refers to."""
    with _services() as services:
        report = services.lifecycle.sweep(dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    out.print(f"{verb} {report.files_removed} stored file(s) ({report.bytes_freed / 1024 / 1024:.1f} MB) and "
              f"{report.stray_files_removed} stray file(s); {report.grants_expired} file(s) passed their retention "
              f"and {report.cache_entries_expired} cache entr(y/ies) expired.", highlight=False)


@data_cli.command("export-user")
def export_user(email: str = typer.Argument(..., help="The person's email"),
                output: Path = typer.Option(..., "--output", "-o", help="The ZIP file to write")) -> None:
    """Write everything MindDocs keeps about a person into a ZIP (what they get from their account page)."""
    with _services() as services:
        user_id = _user_id(services, email)
        fd, tmp = tempfile.mkstemp(dir=output.resolve().parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as target:
                services.lifecycle.write_export(services.local_scope, user_id, target)
            os.replace(tmp, output)
        finally:
            Path(tmp).unlink(missing_ok=True)
    out.print(f"Wrote {output} ({output.stat().st_size / 1024:.0f} KB).", highlight=False)


@data_cli.command("delete-user")
def delete_user(email: str = typer.Argument(..., help="The person's email"),
                yes: bool = typer.Option(False, "--yes", help="Really delete: there is no undo")) -> None:
    """Delete a person with their personal workspace and everything in it; what they made in team workspaces
    passes to an owner there. Refused while they are the last owner of a team workspace."""
    if not yes:
        _fail("Deleting an account cannot be undone; add --yes to confirm (export it first with "
              "'minddocs data export-user EMAIL -o file.zip').", 2)
    with _services() as services:
        services.lifecycle.delete_user(services.local_scope, _user_id(services, email))
    out.print(f"Deleted the account {email.strip()} and its data.", highlight=False)
