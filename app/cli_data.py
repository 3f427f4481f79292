"""`minddocs data ...`: the data lifecycle from the server's command line — sweep old and orphaned files,
export a person's data, delete a person and their data. Registered in app/cli.py. See docs/data.md."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from .cli_support import account, console_services, fail, out

data_cli = typer.Typer(help="Data lifecycle: sweep old and orphaned files, export or delete a person's data.",
                       no_args_is_help=True)


@data_cli.command("sweep")
def sweep(dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; remove nothing")) -> None:
    """Apply retention (retention.artifact_days) and remove stored files nothing refers to."""
    with console_services() as services:
        report = services.lifecycle.sweep(dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    out.print(f"{verb} {report.files_removed} stored file(s) ({report.bytes_freed / 1024 / 1024:.1f} MB) and "
              f"{report.stray_files_removed} stray file(s); {report.grants_expired} file(s) passed their retention "
              f"and {report.cache_entries_expired} cache entr(y/ies) expired.", highlight=False)


@data_cli.command("export-user")
def export_user(email: str = typer.Argument(..., help="The person's email"),
                output: Path = typer.Option(..., "--output", "-o", help="The ZIP file to write")) -> None:
    """Write everything MindDocs keeps about a person into a ZIP (what they get from their account page)."""
    with console_services() as services:
        user_id = account(services, email).id
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
        fail("Deleting an account cannot be undone; add --yes to confirm (export it first with "
              "'minddocs data export-user EMAIL -o file.zip').", 2)
    with console_services() as services:
        services.lifecycle.delete_user(services.local_scope, account(services, email).id)
    out.print(f"Deleted the account {email.strip()} and its data.", highlight=False)
