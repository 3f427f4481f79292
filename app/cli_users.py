"""`minddocs user ...`: accounts from the server's command line (the first administrator, reset links without
email, disabling). Registered in app/cli.py. See docs/accounts.md."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from .cli_support import account, console_services, fail, out

users_cli = typer.Typer(help="Accounts: create the first administrator, list, disable, make reset links.",
                        no_args_is_help=True)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin was given, but standard input holds no password.", 2)
        return password
    if sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return None  # no terminal and no --password-stdin: an account without a password, set through a reset link


@users_cli.command("create")
def create(email: str = typer.Option(..., "--email", help="The address the person signs in with"),
           name: str = typer.Option("", "--name", help="Shown in the app; default: the part before @"),
           admin: bool = typer.Option(False, "--admin", help="An administrator of this MindDocs"),
           locale: str = typer.Option("es", "--locale", help="Language of the app and emails: es or en"),
           password_stdin: bool = typer.Option(False, "--password-stdin",
                                               help="Read the password from standard input (one line)")) -> None:
    """Create an account (asks for the password twice at a terminal). The first one must be an --admin: it
    takes over what was made before it (samples, graphs run from the command line)."""
    password = _read_password(password_stdin)
    with console_services() as services:
        accounts = services.accounts
        if accounts.needs_setup():
            if not admin:
                fail("MindDocs has no administrator yet; create one first: minddocs user create --email "
                      f"{email} --admin", 2)
            user = accounts.setup_admin(email, password, name=name, locale=locale)
        else:
            user = accounts.create_user(email, password, name=name, is_admin=admin, locale=locale)
        kind = "administrator" if user.is_admin else "account"
        out.print(f"Created the {kind} {user.email} (id {user.id}).", highlight=False)
        if password is None:
            out.print(f"It has no password yet: make a link to choose one with: minddocs user reset-link "
                      f"{user.email}", highlight=False)


@users_cli.command("list")
def list_users() -> None:
    """Show the accounts."""
    with console_services() as services:
        users = [u for u in services.accounts_repo.users() if u.claimed]
    if not users:
        out.print("There are no accounts yet; create the first administrator with: minddocs user create --email "
                  "EMAIL --admin", highlight=False)
        return
    table = Table("email", "name", "admin", "active", "last sign-in", "created")
    for u in users:
        table.add_row(u.email, u.name, "yes" if u.is_admin else "", "yes" if u.is_active else "[red]disabled[/]",
                      f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never", f"{u.created_at:%Y-%m-%d}")
    out.print(table)


@users_cli.command("reset-link")
def reset_link(email: str = typer.Argument(..., help="The account's email")) -> None:
    """Print a single-use link that sets a new password (pass it on when this server sends no email)."""
    with console_services() as services:
        user = account(services, email)
        link = services.password_reset.admin_link(services.local_scope, user.id)
        minutes = services.settings.auth.reset_token_minutes
    print(link)  # alone on standard output, for scripts
    typer.echo(f"It works once, for {minutes} minutes; send it to {user.email} privately.", err=True)


def _set(email: str, action: str, **values: bool) -> None:
    with console_services() as services:
        user = account(services, email)
        keeps_admin = values.get("is_active", True) and values.get("is_admin", True)
        if user.is_admin and user.is_active and not keeps_admin:
            admins = [u for u in services.accounts_repo.users() if u.is_admin and u.is_active and u.claimed]
            if len(admins) <= 1:
                fail(f"{user.email} is the only active administrator; make another one first: minddocs user "
                      "set-admin EMAIL --yes", 2)
        changed = services.accounts_repo.update_user(user.id, **values, bump_epoch=values.get("is_active") is False)
        services.audit.record(services.local_scope.actor, action, target_type="user", target_id=user.id,
                              details={"email": user.email})
    state = {"user.disabled": "is disabled: their sessions and API tokens have ended",
             "user.enabled": "may sign in again", "user.admin_granted": "is an administrator",
             "user.admin_revoked": "is no longer an administrator"}[action]
    out.print(f"{changed.email} {state}.", highlight=False)


@users_cli.command("disable")
def disable(email: str = typer.Argument(..., help="The account's email")) -> None:
    """Stop an account from signing in; its sessions and API tokens end at once. Its work stays."""
    _set(email, "user.disabled", is_active=False)


@users_cli.command("enable")
def enable(email: str = typer.Argument(..., help="The account's email")) -> None:
    """Let a disabled account sign in again."""
    _set(email, "user.enabled", is_active=True)


@users_cli.command("set-admin")
def set_admin(email: str = typer.Argument(..., help="The account's email"),
              admin: bool | None = typer.Option(None, "--yes/--no", help="Make an administrator, or stop being one")
              ) -> None:
    """Make an account an administrator of this MindDocs (--yes), or not (--no)."""
    if admin is None:
        fail("Say --yes (make an administrator) or --no (no longer one).", 2)
    _set(email, "user.admin_granted" if admin else "user.admin_revoked", is_admin=bool(admin))
