"""For-each loops in a graph: which nodes run once per item, between a `flow.for_each` and its `flow.collect`.

A loop is the for-each node F, its collect node C and the body: every node on a path from F to C. Body
nodes run once per item (as node runs "<node>[<item>]"); nodes upstream of F feed every item the same
value. Everything downstream of F must pass through C, so an item's results can only leave the loop
collected, and loops cannot nest (yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import networkx as nx

FOR_EACH_TYPE = "flow.for_each"
COLLECT_TYPE = "flow.collect"


@dataclass(frozen=True)
class Loop:
    node: str  # the flow.for_each node
    collect: str  # its flow.collect node
    body: frozenset[str]
    roots: tuple[str, ...]  # body nodes fed by no other body node: what starts an item

    def instance(self, node_id: str, item: int) -> str:
        """The node run id of a body node for one item; other nodes keep their own id."""
        return instance_id(node_id, item) if node_id in self.body else node_id


@dataclass(frozen=True)
class LoopProblem:
    code: str
    node_id: str
    message: str  # uses {title} placeholders filled by the validator: {node}, {for_each}, {collect}
    params: Mapping[str, str | tuple[str, ...]]  # node ids, or several of them


def instance_id(node_id: str, item: int) -> str:
    return f"{node_id}[{item}]"


def split_instance(node_run_id: str) -> tuple[str, int | None]:
    """"fill[3]" -> ("fill", 3); "fill" -> ("fill", None)."""
    if node_run_id.endswith("]") and "[" in node_run_id:
        base, _, item = node_run_id[:-1].rpartition("[")
        if item.isdigit():
            return base, int(item)
    return node_run_id, None


def find_loops(dag: nx.DiGraph | nx.MultiDiGraph, types: Mapping[str, str]) -> tuple[dict[str, Loop],
                                                                                    list[LoopProblem]]:
    """The loops of an acyclic graph, keyed by for-each node id, and what is wrong with their shape."""
    problems: list[LoopProblem] = []
    loops: dict[str, Loop] = {}
    for_eaches = sorted(n for n in dag if types.get(n) == FOR_EACH_TYPE)
    collects = sorted(n for n in dag if types.get(n) == COLLECT_TYPE)
    paired: dict[str, list[str]] = {c: [] for c in collects}
    for node in for_eaches:
        found = _first_collects(dag, node, types)
        if not found:
            problems.append(LoopProblem("loop_without_collect", node, "{node} repeats the nodes after it for each "
                                        "item, but no Collect node gathers the results; add a Collect node at the "
                                        "end of the repeated part.", {"node": node}))
            continue
        if len(found) > 1:
            problems.append(LoopProblem("loop_collect_ambiguous", node, "{node} leads to more than one Collect node "
                                        "({others}); a loop has exactly one Collect node where its items come "
                                        "together.", {"node": node, "others": tuple(found)}))
            continue
        collect = found[0]
        paired[collect].append(node)
        body = frozenset(nx.descendants(dag, node) & nx.ancestors(dag, collect))
        problems += _shape_problems(dag, types, node, collect, body)
        roots = tuple(sorted(n for n in body if not any(p in body for p in dag.predecessors(n))))
        loops[node] = Loop(node, collect, body, roots)
    for collect, owners in paired.items():
        if not owners:
            problems.append(LoopProblem("collect_without_loop", collect, "{node} gathers the items of a For each "
                                        "node, but no For each node comes before it; add one or remove the "
                                        "Collect node.", {"node": collect}))
        elif len(owners) > 1:
            problems.append(LoopProblem("collect_shared", collect, "{node} is the end of several loops ({others}); "
                                        "give each For each node its own Collect node.",
                                        {"node": collect, "others": tuple(owners)}))
    return loops, problems


def _first_collects(dag: nx.DiGraph | nx.MultiDiGraph, start: str, types: Mapping[str, str]) -> list[str]:
    """Collect nodes reachable from `start` without passing through another collect node."""
    found, seen, stack = set(), {start}, [start]
    while stack:
        for child in dag.successors(stack.pop()):
            if child in seen:
                continue
            seen.add(child)
            if types.get(child) == COLLECT_TYPE:
                found.add(child)
            else:
                stack.append(child)
    return sorted(found)


def _shape_problems(dag: nx.DiGraph | nx.MultiDiGraph, types: Mapping[str, str], node: str, collect: str,
                    body: frozenset[str]) -> Iterable[LoopProblem]:
    for inner in sorted(body):
        if types.get(inner) in (FOR_EACH_TYPE, COLLECT_TYPE):
            yield LoopProblem("loop_nested", inner, "{node} is inside the loop of {for_each}; loops inside loops "
                              "are not supported yet: move it after {collect}, or split the work into two "
                              "graphs.", {"node": inner, "for_each": node, "collect": collect})
    inside = body | {collect}
    for source in sorted(body | {node}):
        for child in sorted(set(dag.successors(source)) - inside):
            params = {"node": source, "for_each": node, "collect": collect, "target": child}
            if source == node:
                yield LoopProblem("loop_leak", source, "The items of {node} go to {target}, which does not lead to "
                                  "{collect}; everything after a For each node is repeated per item and must end "
                                  "in its Collect node. Connect {target} after {collect} instead.", params)
            else:
                yield LoopProblem("loop_leak", source, "{node} runs once per item of {for_each}, but it also feeds "
                                  "{target}, which is not part of the loop; connect it only to nodes that lead "
                                  "to {collect}, and use the output of {collect} after the loop.", params)
