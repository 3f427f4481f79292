"""Print the requirements of pyproject.toml (and of the extras named), one a line, for `pip install -r`.

The Dockerfile installs these first, in a layer of their own that a change to the sources does not rebuild;
the project itself is installed afterwards with --no-deps.

    python scripts/pyproject_deps.py [pyproject.toml] [EXTRAS]      EXTRAS: "media" or "media,test" or ""
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: str = "") -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = [name.strip() for name in extras.split(",") if name.strip()]
    optional = project.get("optional-dependencies", {})
    unknown = [name for name in wanted if name not in optional]
    if unknown:
        raise SystemExit(f"Unknown extra(s) {', '.join(unknown)}; pyproject.toml has: {', '.join(optional)}.")
    return list(project["dependencies"]) + [req for name in wanted for req in optional[name]]


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("pyproject.toml")
    print("\n".join(requirements(path, sys.argv[2] if len(sys.argv) > 2 else "")))
