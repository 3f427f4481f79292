"""A picture of a graph as SVG text, drawn on the server from the nodes' editor positions (no browser)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

NODE_W, NODE_H, PAD = 180, 56, 24
_COLOURS = {"io": "#e0f2fe", "doc": "#ede9fe", "text": "#dcfce7", "llm": "#fef3c7", "image": "#fce7f3",
            "audio": "#ffedd5", "flow": "#f1f5f9", "data": "#e2e8f0"}


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_svg(spec: dict[str, Any], *, max_nodes: int = 200) -> str:
    """Boxes for the nodes (label and type), curves for the edges; scaled by the viewer through viewBox."""
    nodes = spec.get("nodes", [])[:max_nodes]
    if not nodes:
        return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 80" role="img">'
                '<text x="20" y="45" font-family="sans-serif" font-size="14">(empty graph)</text></svg>')
    where = {}
    for n in nodes:
        pos = n.get("position") or {}
        where[n["id"]] = (float(pos.get("x", 0) or 0), float(pos.get("y", 0) or 0))
    min_x = min(x for x, _ in where.values()) - PAD
    min_y = min(y for _, y in where.values()) - PAD
    width = max(x for x, _ in where.values()) - min_x + NODE_W + PAD
    height = max(y for _, y in where.values()) - min_y + NODE_H + PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{min_x:.0f} {min_y:.0f} {width:.0f} {height:.0f}" '
             f'role="img" font-family="sans-serif">',
             f'<rect x="{min_x:.0f}" y="{min_y:.0f}" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>']
    for edge in spec.get("edges", []):
        if edge.get("source") not in where or edge.get("target") not in where:
            continue
        sx, sy = where[edge["source"]]
        tx, ty = where[edge["target"]]
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx, ty + NODE_H / 2
        bend = max(40.0, abs(x2 - x1) / 2)
        parts.append(f'<path d="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} '
                     f'{x2:.0f},{y2:.0f}" fill="none" stroke="#64748b" stroke-width="2"/>')
    for n in nodes:
        x, y = where[n["id"]]
        node_type = str(n.get("type", ""))
        fill = _COLOURS.get(node_type.split(".", 1)[0], "#f8fafc")
        label = str(n.get("label") or (n.get("config") or {}).get("name") or n["id"])
        parts.append(f'<g><rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="8" fill="{fill}" '
                     'stroke="#334155" stroke-width="1.5"/>'
                     f'<text x="{x + 10:.0f}" y="{y + 23:.0f}" font-size="14" fill="#0f172a">'
                     f'{escape(_short(label, 22))}</text>'
                     f'<text x="{x + 10:.0f}" y="{y + 43:.0f}" font-size="11" fill="#475569">'
                     f'{escape(_short(node_type, 28))}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
