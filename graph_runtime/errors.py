"""Exceptions the runtime raises for its callers (the app turns them into API errors and messages)."""

from __future__ import annotations

from .validate import Issue


class GraphInvalid(Exception):
    """The graph cannot run; `issues` lists every problem."""

    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues


class InputsInvalid(Exception):
    """The values given for the graph's inputs do not fit; `problems` maps input name -> sentence."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


class RetryLater(Exception):
    """Raised by the engine when a node should be tried again after `delay_ms` (transient failure)."""

    def __init__(self, delay_ms: int):
        super().__init__(f"retry in {delay_ms} ms")
        self.delay_ms = delay_ms
