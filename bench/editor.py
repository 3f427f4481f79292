"""Editor load time: how long the graph editor takes to become usable in Chromium, beside a plain page.

Starts `minddocs serve` in a subprocess (free port, temporary MINDDOCS_DATA_DIR, MINDDOCS_LOAD_SAMPLES=false,
embedded worker), saves chains of 50, 150 and 300 built-in nodes (io.input -> text.template ... -> io.output,
format 2) through the REST API (POST /api/v1/graphs) and opens each in headless Chromium (Debian's
/usr/bin/chromium driven by Playwright; never `playwright install`). One load is:

    new tab -> goto(url) -> [mounted]     N `.vue-flow__node` elements exist (first animation frame seen)
                         -> [rendered]    ... and none is `visibility: hidden` any more (Vue Flow hides a node
                                          until it has measured it and its handles) and the N-1
                                          `.vue-flow__edge` elements exist: the whole graph is drawn
                         -> Playwright clicks the title of node `t001` (real mouse events, after its
                            actionability checks)
                         -> [interactive] the node has Vue Flow's `selected` class and the server's answer is
                                          in the DOM: the side panel shows "text.template · #t001" (a
                                          websocket round trip through Python; seen by a MutationObserver)

All times are read on the page's clock (`performance.now()`: 0 = navigation start), at animation frames.
The baseline is the library page `/` in the same run: [rendered] = the "New graph" button and every graph
card are in the DOM; [interactive] = a click on "New graph" has opened the name dialog (also a round trip).

The library page and the first editor are loaded once to warm the HTTP cache (discarded); then each page
`--repeats` times, interleaved (baseline, 50, 150, 300, baseline, ...) so that machine load spreads evenly;
each load is a new tab in one browser context. Figures are the median and min-max. Every load also records
the navigation timing, CDP Performance.getMetrics (main-thread time: script, style, layout, other), long
tasks and the websocket frames.

`--profile` (on by default) then looks at where the time goes, outside the timed loads: one load of the
largest graph with a Chromium trace (main-thread time by kind, long tasks) and a JS CPU profile (CDP
Profiler); the server's time to build each page (HTTP GET) and the editor's Python steps timed in this
process. `--experiments N` loads the largest graph N more times in each of a few variants, with the page or
flow_editor.js changed in the browser only (request interception), to size what each load-time remedy buys:
NiceGUI's in-browser Tailwind compiler instead of the precompiled stylesheet, the minimap mounted with the
canvas, the graph handed to Vue Flow through reactive proxies, all three (the editor before them), and no
minimap / no background at all. The page's Tailwind mode (precompiled or in the browser) is recorded.

    .venv/bin/python bench/editor.py                  # ~2-2.5 min on 2 busy cores, bounded by --budget
    .venv/bin/python bench/editor.py --sizes 300 --repeats 3 --no-profile --experiments 5   # ~3 min

Writes bench/results/editor-<time>.json (gitignored). Stops the server and Chromium even when it fails.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("MINDDOCS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TARGET_S = 2.0  # at 300 nodes
TARGET_NODES = 300
CLICK_NODE = "t001"
VIEWPORT = {"width": 1600, "height": 1000}
STEP_TIMEOUT_MS = 30_000


# --- graphs ----------------------------------------------------------------------------------------
def chain_graph(n: int) -> dict[str, Any]:
    """io.input -> (n-2) text.template ('{{ x }}', variable x) -> io.output: n nodes, n-1 edges.

    Laid out row by row, 10 nodes a row, 300 px apart, 200 px between rows (what auto-layout spacing looks
    like), so a fit view of 300 nodes is 3000 x 6000 px of graph.
    """
    assert n >= 3
    ids = ["in"] + [f"t{i:03d}" for i in range(1, n - 1)] + ["out"]
    nodes = []
    for index, node_id in enumerate(ids):
        position = {"x": (index % 10) * 300, "y": (index // 10) * 200}
        if node_id == "in":
            nodes.append({"id": node_id, "type": "io.input", "version": 1, "position": position,
                          "config": {"name": "text", "kind": "text", "label": "Text"}})
        elif node_id == "out":
            nodes.append({"id": node_id, "type": "io.output", "version": 1, "position": position,
                          "config": {"name": "result", "label": "Result"}})
        else:
            nodes.append({"id": node_id, "type": "text.template", "version": 1, "position": position,
                          "config": {"variables": ["x"], "template": "{{ x }}"}})
    edges = []
    for a, b in itertools.pairwise(ids):
        edges.append({"source": a, "source_port": "value" if a == "in" else "text",
                      "target": b, "target_port": "value" if b == "out" else "x"})
    meta = {"name": f"bench chain {n}", "description": f"{n} nodes", "tags": []}
    return {"format_version": 2, "meta": meta,
            "nodes": nodes, "edges": edges}


# --- server ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MINDDOCS_REDIS_URL"}  # embedded worker
    env.update(MINDDOCS_DATA_DIR=str(data_dir), MINDDOCS_LOAD_SAMPLES="false")
    exe = Path(sys.executable).with_name("minddocs")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-c", "from app.cli import main; main()"]
    with open(log_path, "wb") as log:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen([*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("the server did not answer /api/v1/health within 90 s")


def sign_in(data_dir: Path) -> tuple[str, str]:
    """An administrator with an API token and a browser session, in the database the server will open:
    (token for the API calls, session cookie value for Chromium)."""
    from app.accounts import actor_for
    from app.services import Services
    from app.settings import Settings

    svc = Services(Settings(_env_file=None, data_dir=data_dir, load_samples=False))  # never started
    try:
        admin = svc.accounts.setup_admin("bench@example.com", "quiet harbour 8842")
        _, token = svc.tokens.create(svc.scope_for(actor_for(admin)), "bench", ["write"])
        return token, svc.accounts.sign_in_user(admin.id, ip="127.0.0.1").cookie_value
    finally:
        svc.close()


def signed_in_context(browser: Any, url: str, cookie: str) -> Any:
    from app.web_auth import SESSION_COOKIE

    context = browser.new_context(locale="en-US", viewport=VIEWPORT,
                                  extra_http_headers={"Accept-Language": "en-US,en;q=0.9"})
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": url}])
    return context


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --- browser measurements --------------------------------------------------------------------------
def editor_ready_js(n: int) -> str:
    """True (as [mounted, rendered] times) once the first node is drawn and measured and an edge exists.

    The editor mounts only the nodes in view (Vue Flow's `only-render-visible-elements`), so "ready" is the
    first node (`t001`) shown — Vue Flow keeps a node `visibility: hidden` until it has measured its size
    and handles — and an edge drawn from those handles. `n` is kept for the call signature.
    """
    return ("() => { const el = document.querySelector('.vue-flow__node[data-id=\"t001\"]');"
            " if (!el) return false; if (!window.__mdMounted) window.__mdMounted = performance.now();"
            " if (el.style.visibility === 'hidden' || !document.querySelector('.vue-flow__edge')) return false;"
            " return [window.__mdMounted, performance.now()]; }")


def watch_answer_js() -> str:
    """Before the click: note when "text.template · #<id>" enters the DOM (a MutationObserver: cheap)."""
    return """(target) => { window.__mdAnswer = 0;
        const has = (n) => (n.nodeType === 1 || n.nodeType === 3) && n.textContent.includes(target);
        const obs = new MutationObserver((records) => {
          for (const r of records)
            if (r.type === 'characterData' ? has(r.target) : [...r.addedNodes].some(has)) {
            window.__mdAnswer = performance.now(); obs.disconnect(); return; } });
        obs.observe(document.body, {childList: true, subtree: true, characterData: true}); }"""


def answered_js(node_id: str) -> str:
    # The side panel shows "<type> · #<id>" once Python has handled the selection (a websocket round trip).
    return (f"() => window.__mdAnswer && document.querySelector('.vue-flow__node[data-id=\"{node_id}\"]')"
            ".classList.contains('selected') ? performance.now() : false")


LIBRARY_READY_JS = ("(cards) => { const b = [...document.querySelectorAll('button')]"
                    ".some(x => x.textContent.includes('New graph'));"
                    " if (!b || document.querySelectorAll('.q-card').length < cards) return false;"
                    " return [performance.now(), performance.now()]; }")
DIALOG_JS = "() => document.querySelector('.q-dialog input') ? performance.now() : false"
LONG_TASKS_JS = """window.__mdLongTasks = [];
new PerformanceObserver(l => { for (const e of l.getEntries())
    window.__mdLongTasks.push([Math.round(e.startTime), Math.round(e.duration)]); })
  .observe({type: 'longtask', buffered: true});"""
NAVIGATION_JS = """() => { const n = performance.getEntriesByType('navigation')[0];
    return {request_start: n.requestStart, response_start: n.responseStart, response_end: n.responseEnd,
            html_bytes: n.decodedBodySize, dom_content_loaded: n.domContentLoadedEventEnd,
            tailwind: document.querySelector('script[src*="tailwindcss"]') ? 'in browser' : 'precompiled',
            long_tasks: window.__mdLongTasks || []}; }"""
MAIN_THREAD = ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration", "TaskOtherDuration")


def load_once(context, url: str, kind: str, n: int, cards: int, *, cpu_profile: bool = False,
              trace_browser=None) -> dict[str, Any]:
    """One timed load in a new tab, with CDP Performance metrics and websocket frame sizes.

    `cpu_profile` adds a CDP Profiler JS CPU profile and `trace_browser` a Chromium trace (profiling only:
    both slow the page down).
    """
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type in ("error", "warning") or "reload" in msg.text else None)
    frames: dict[str, list[int]] = {"received": [], "sent": []}

    def on_websocket(ws) -> None:
        def size(payload: str | bytes) -> int:
            return len(payload) if isinstance(payload, bytes) else len(payload.encode())
        ws.on("framereceived", lambda p: frames["received"].append(size(p)))
        ws.on("framesent", lambda p: frames["sent"].append(size(p)))

    page.on("websocket", on_websocket)
    page.add_init_script(LONG_TASKS_JS)
    cdp = context.new_cdp_session(page)
    try:
        cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
        if cpu_profile:
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 250})
            cdp.send("Profiler.start")
        if trace_browser is not None:
            trace_browser.start_tracing(page=page, categories=[
                "devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "toplevel"])
        wall0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        if kind == "editor":
            mounted, rendered = page.wait_for_function(editor_ready_js(n), polling="raf").json_value()
            page.evaluate(watch_answer_js(), f"text.template · #{CLICK_NODE}")
            click_at = page.evaluate("performance.now()")
            page.locator(f'.vue-flow__node[data-id="{CLICK_NODE}"] .md-node-title').click()
            interactive = page.wait_for_function(answered_js(CLICK_NODE), polling="raf").json_value()
        else:
            ready = page.wait_for_function(LIBRARY_READY_JS, arg=cards, polling="raf")
            mounted, rendered = ready.json_value()
            click_at = page.evaluate("performance.now()")
            page.get_by_role("button", name="New graph").click()
            interactive = page.wait_for_function(DIALOG_JS, polling="raf").json_value()
        wall = time.perf_counter() - wall0
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        result = {"mounted_ms": mounted, "rendered_ms": rendered, "click_at_ms": click_at,
                  "interactive_ms": interactive, "click_to_response_ms": interactive - click_at,
                  "wall_s": wall,
                  **page.evaluate(NAVIGATION_JS),
                  "main_thread_ms": {k: round(metrics.get(k, 0) * 1000) for k in MAIN_THREAD},
                  "dom_nodes": int(metrics.get("Nodes", 0)), "layouts": int(metrics.get("LayoutCount", 0)),
                  "style_recalcs": int(metrics.get("RecalcStyleCount", 0)),
                  "js_heap_mb": round(metrics.get("JSHeapUsedSize", 0) / 2**20, 1),
                  "ws": {k: {"frames": len(v), "bytes": sum(v), "largest": max(v, default=0)}
                         for k, v in frames.items()}}
        if cpu_profile:
            result["cpu_profile"] = summarise_cpu_profile(cdp.send("Profiler.stop")["profile"])
        if trace_browser is not None:
            result["trace"] = summarise_trace(trace_browser.stop_tracing(), url)
        if errors:
            result["page_errors"] = errors
        return result
    except Exception as exc:
        message = f"{url}: {exc.__class__.__name__}: {str(exc)[:300]}; page said: {errors[-5:]}"
        raise LoadFailed(message) from exc
    finally:
        page.close()


class LoadFailed(RuntimeError):
    pass


def load_retrying(*args, failures: list[str], **kwargs) -> dict[str, Any]:
    """load_once, tried a second time (in a new tab) if the first try fails; the failure is kept."""
    try:
        return load_once(*args, **kwargs)
    except LoadFailed as exc:
        failures.append(str(exc))
        print(f"  load failed, trying once more: {exc}", flush=True)
        return load_once(*args, **kwargs)


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# --- profiling -------------------------------------------------------------------------------------
def summarise_cpu_profile(profile: dict[str, Any], top: int = 25) -> dict[str, Any]:
    """Self time by script and by function, and inclusive time by function (each sample counted once)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}

    def key(node_id: int) -> tuple[str, str]:
        frame = nodes[node_id]["callFrame"]
        script = frame["url"].split("/")[-1].split("?")[0]
        name = frame["functionName"] or "(anonymous)"
        return (f"{name} [{script}:{frame['lineNumber'] + 1}]" if script else name), script or "(native)"

    self_us: dict[str, float] = defaultdict(float)
    script_us: dict[str, float] = defaultdict(float)
    incl_us: dict[str, float] = defaultdict(float)
    for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
        name, script = key(sample)
        self_us[name] += delta
        script_us[script] += delta
        seen, node_id = set(), sample
        while node_id is not None:
            seen.add(key(node_id)[0])
            node_id = parent.get(node_id)
        for name in seen:
            incl_us[name] += delta

    def ranked(table: dict[str, float]) -> list[list[Any]]:
        return [[k, round(v / 1000)] for k, v in sorted(table.items(), key=lambda kv: -kv[1])[:top]]

    return {"sampled_ms": round(sum(profile["timeDeltas"]) / 1000), "self_by_script_ms": ranked(script_us),
            "self_by_function_ms": ranked(self_us),
            "inclusive_by_function_ms": ranked({k: v for k, v in incl_us.items() if not k.startswith("(")})}


TRACE_KINDS = {  # trace event name -> what the Performance panel would call it
    "UpdateLayoutTree": "style", "ParseAuthorStyleSheet": "style", "Layout": "layout",
    "Paint": "paint", "PrePaint": "paint", "Layerize": "paint", "Commit": "paint", "PaintImage": "paint",
    "HitTest": "hit test", "ParseHTML": "parse HTML",
}


def summarise_trace(raw: bytes, url: str) -> dict[str, Any]:
    """Main-thread self time by kind, and the long tasks with what filled them, from a Chromium trace."""
    data = json.loads(raw)
    events = data["traceEvents"] if isinstance(data, dict) else data
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
               if e.get("ph") == "M" and e.get("name") == "thread_name"}
    busy: dict[tuple, float] = defaultdict(float)
    for e in events:
        if e.get("ph") == "X" and threads.get((e["pid"], e["tid"])) == "CrRendererMain":
            busy[(e["pid"], e["tid"])] += e.get("dur", 0)
    main = max(busy, key=busy.get)
    spans = sorted((e for e in events if e.get("ph") == "X" and (e["pid"], e["tid"]) == main and "dur" in e),
                   key=lambda e: (e["ts"], -e["dur"]))

    def kind(name: str) -> str:
        if name in TRACE_KINDS:
            return TRACE_KINDS[name]
        if "GC" in name:
            return "GC"
        if name.startswith(("v8", "V8")) or name in (
                "FunctionCall", "EvaluateScript", "TimerFire", "FireAnimationFrame", "EventDispatch",
                "RunMicrotasks", "v8.callFunction", "v8.evaluateModule"):
            return "script"
        return "other"

    stack: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    totals: dict[str, float] = defaultdict(float)
    for e in spans:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        e["_self"] = e["dur"]
        if stack:
            stack[-1]["_self"] -= e["dur"]
        else:
            e["_kinds"] = defaultdict(float)
            tasks.append(e)
        e["_root"] = stack[0] if stack else e
        stack.append(e)
    for e in spans:  # self times are final now
        k = kind(e["name"])
        totals[k] += e["_self"]
        e["_root"]["_kinds"][k] += e["_self"]
    # the page's clock starts at its navigationStart (the one whose document is the page's URL)
    starts = [e["ts"] for e in events if e.get("name") == "navigationStart"
              and (e.get("args", {}).get("data", {}).get("documentLoaderURL") or "").startswith(url)]
    origin = min(starts) if starts else tasks[0]["ts"]
    by_kind = {k: round(v / 1000) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
    return {"main_thread_self_ms": by_kind,
            "long_tasks": [{"start_ms": round((t["ts"] - origin) / 1000), "ms": round(t["dur"] / 1000),
                            "split_ms": {k: round(v / 1000) for k, v in
                                         sorted(t["_kinds"].items(), key=lambda kv: -kv[1]) if v >= 5000}}
                           for t in tasks if t["dur"] >= 50_000 and t["ts"] >= origin]}


FIRST_NODE_DRAWN_JS = f"""() => {{
    const el = document.querySelector('.vue-flow__node[data-id="{CLICK_NODE}"]');
    return el && el.style.visibility !== 'hidden' && document.querySelector('.vue-flow__edge')
        ? performance.now() : false; }}"""


def patched_js(pairs: list[tuple[str, str]]):
    def handler(route) -> None:
        response = route.fetch()
        body = response.text()
        for old, new in pairs:
            if old not in body:
                raise RuntimeError(f"experiment patch no longer applies: {old!r}")
            body = body.replace(old, new)
        route.fulfill(response=response, body=body)
    return handler


def in_browser_tailwind(route) -> None:
    """The page as NiceGUI serves it with `tailwind=True`: its in-browser compiler instead of the precompiled CSS."""
    response = route.fetch()
    body = response.text()
    mark = "<!-- minddocs: precompiled tailwind -->"
    start = body.find(mark)
    static = re.search(r'src="([^"]*/static/)nicegui\.js"', body)
    if start < 0 or not static:
        raise RuntimeError("experiment patch no longer applies: no precompiled Tailwind <style> in the page")
    end = body.index("</style>", start) + len("</style>")
    compiler = ('<style type="text/tailwindcss">@custom-variant dark (&:where(body.body--dark, body.body--dark *));'
                f'</style><script defer src="{static.group(1)}tailwindcss.min.js"></script>')
    route.fulfill(response=response, body=body[:start] + compiler + body[end:])


def run_experiments(browser, url: str, path: str, repeats: int, cookie: str) -> dict[str, Any]:
    """Load the largest graph with parts of the page changed in the browser (the repository is untouched).

    Each variant patches the page or flow_editor.js through request interception:
    - in-browser Tailwind: NiceGUI's in-browser Tailwind compiler instead of the precompiled stylesheet;
    - minimap at load: the minimap (it draws every node of the graph, not only those in view) mounts with the
      canvas, instead of once the canvas is drawn and the browser is idle;
    - reactive props: the graph is handed to Vue Flow through Vue's reactive proxies of the props instead of
      as the props' plain objects (`toRaw`);
    - as before: the three above together (the editor before these changes);
    - no minimap: `<MiniMap>` is never mounted; no background: the dotted `<Background>` is left out.
    `rendered` here is: node t001 drawn (measured, visible) and at least one edge; `interactive` as in the
    timed loads.
    """
    at_load = [("minimapShown: false", "minimapShown: true")]
    reactive = [("(toRaw(this.nodes) || [])", "(this.nodes || [])"), ("toRaw(this.edges) || []", "this.edges || []")]
    tailwind = (f"**{path}", in_browser_tailwind)

    def js(pairs: list[tuple[str, str]]) -> tuple[str, Any]:
        return "**/flow_editor.js", patched_js(pairs)

    variants = {"as is": [], "in-browser Tailwind": [tailwind], "minimap at load": [js(at_load)],
                "reactive props": [js(reactive)], "as before (all three)": [tailwind, js(at_load + reactive)],
                "no minimap": [js([('<MiniMap v-if="minimap && minimapShown"', '<MiniMap v-if="false"')])],
                "no background": [js([('<Background :gap="16" />', "")])]}
    contexts = {}
    for name, routes in variants.items():
        context = signed_in_context(browser, url, cookie)
        for pattern, handler in routes:
            context.route(pattern, handler)
        contexts[name] = context
    loads: dict[str, list[dict[str, float]]] = {name: [] for name in variants}

    def one(context) -> dict[str, float]:
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        cdp = context.new_cdp_session(page)
        try:
            cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
            page.goto(url + path, wait_until="commit")
            drawn = page.wait_for_function(FIRST_NODE_DRAWN_JS, polling="raf").json_value()
            page.evaluate(watch_answer_js(), f"text.template · #{CLICK_NODE}")
            click_at = page.evaluate("performance.now()")
            page.locator(f'.vue-flow__node[data-id="{CLICK_NODE}"] .md-node-title').click()
            interactive = page.wait_for_function(answered_js(CLICK_NODE), polling="raf").json_value()
            busy = next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                        if m["name"] == "TaskDuration")
            return {"rendered_ms": drawn, "interactive_ms": interactive,
                    "click_to_response_ms": interactive - click_at, "busy_ms": busy * 1000,
                    "nodes_in_dom": page.evaluate("document.querySelectorAll('.vue-flow__node').length")}
        finally:
            page.close()

    try:
        for context in contexts.values():  # warm-up
            one(context)
        for _ in range(repeats):
            for name, context in contexts.items():
                loads[name].append(one(context))
    finally:
        for context in contexts.values():
            context.close()
    return {name: {key: summary([r[key] for r in rows]) for key in rows[0]} for name, rows in loads.items()}


def server_build_times(url: str, paths: dict[str, str], cookie: str, repeats: int = 3) -> dict[str, Any]:
    """GET each page over HTTP: the server builds the whole page (Python + NiceGUI's HTML) for it."""
    from app.web_auth import SESSION_COOKIE

    out = {}
    with httpx.Client(timeout=60, cookies={SESSION_COOKIE: cookie}) as client:
        for label, path in paths.items():
            times, size = [], 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                response = client.get(url + path)
                times.append(time.perf_counter() - t0)
                size = len(response.content)
            out[label] = {"get_ms": summary([t * 1000 for t in times]), "html_bytes": size}
    return out


def python_steps(sizes: list[int]) -> dict[str, Any]:
    """The editor page's own Python steps for each graph, timed in this process on a scratch database."""
    from nicegui.observables import ObservableDict

    from app.services import Services
    from app.settings import Settings
    from ui.editor_model import EditorModel

    out = {}
    with tempfile.TemporaryDirectory(prefix="minddocs-bench-editor-py-") as tmp:
        svc = Services(Settings(_env_file=None, data_dir=Path(tmp), load_samples=False))  # never started
        catalogue = svc.registry.catalogue()
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            svc.registry.catalogue()
            runs.append((time.perf_counter() - t0) * 1000)
        out["catalogue_ms (every page load; fixed)"] = round(statistics.median(runs), 1)
        for n in sizes:
            spec = chain_graph(n)
            steps: dict[str, list[float]] = defaultdict(list)
            for _ in range(3):
                t0 = time.perf_counter()
                model = EditorModel(svc, spec, catalogue)  # deep copy + graphs.validate
                t1 = time.perf_counter()
                nodes, edges = model.flow()
                t2 = time.perf_counter()
                compat = model.compat()
                t3 = time.perf_counter()
                props = json.dumps({"nodes": nodes, "edges": edges, "compat": compat})
                t4 = time.perf_counter()
                observed = ObservableDict({})  # what FlowEditor's self._props[...] = ... costs: deep wrapping
                observed["nodes"], observed["edges"] = nodes, edges
                t5 = time.perf_counter()
                for step, value in (("validate_ms", t1 - t0), ("flow_ms", t2 - t1), ("compat_ms", t3 - t2),
                                    ("json_ms", t4 - t3), ("observable_props_ms", t5 - t4)):
                    steps[step].append(value * 1000)
            out[n] = {**{k: round(statistics.median(v), 1) for k, v in steps.items()},
                      "props_bytes": len(props), "nodes_bytes": len(json.dumps(nodes)),
                      "edges_bytes": len(json.dumps(edges)), "compat_bytes": len(json.dumps(compat))}
    return out


# --- main ------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    try:
        chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20,
                                  check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        chromium = "?"
    from importlib.metadata import version
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(), "chromium": chromium,
            "nicegui": version("nicegui"), "playwright": version("playwright"),
            "loadavg": list(os.getloadavg())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="50,150,300", help="node counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="timed loads per page (after the warm-up)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="after the timed loads, look at where the time goes")
    parser.add_argument("--budget", type=float, default=170,
                        help="seconds: fewer repeats (and no profile) rather than run longer than this")
    parser.add_argument("--experiments", type=int, default=0, metavar="N",
                        help="also load the largest graph N times with Tailwind precompiled and/or only "
                             "visible nodes mounted (about 40 s per N on 2 cores; raises --budget to match)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file (default bench/results/editor-<time>.json)")
    args = parser.parse_args()
    budget = args.budget + 45 * args.experiments  # the timed loads keep their share
    sizes = sorted(int(s) for s in args.sizes.split(","))
    started = datetime.now(UTC)
    t_start = time.monotonic()
    result: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(), "sizes": sizes, "repeats_asked": args.repeats,
        "definition": {"rendered": "N .vue-flow__node, none with visibility:hidden (measured), "
                                   "N-1 .vue-flow__edge",
                       "interactive": f"then click {CLICK_NODE}'s title: node .selected and side panel "
                                      f"'text.template · #{CLICK_NODE}' (server round trip)",
                       "clock": "performance.now() of the page: 0 = navigation start"}}

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="minddocs-bench-editor-") as tmp:
        token, cookie = sign_in(Path(tmp) / "data")
        auth = {"Authorization": f"Bearer {token}"}
        proc, url = start_server(Path(tmp) / "data", Path(tmp) / "server.log")
        browser = None
        try:
            result["server_start_s"] = round(time.monotonic() - t_start, 1)
            graph_ids = {}
            for n in sizes:
                created = httpx.post(url + "/api/v1/graphs", json=chain_graph(n), headers=auth, timeout=60)
                created.raise_for_status()
                body = created.json()
                if body["issues"]:
                    raise RuntimeError(f"the {n}-node graph is not valid: {body['issues'][:3]}")
                graph_ids[n] = body["id"]
            empty = {"format_version": 2, "meta": {"name": "bench empty", "description": "", "tags": []},
                     "nodes": [], "edges": []}  # for the server's fixed cost of the editor page
            created = httpx.post(url + "/api/v1/graphs", json=empty, headers=auth, timeout=60)
            empty_id = created.raise_for_status().json()["id"]
            cards = len(graph_ids) + 1
            pages = [("library", "/", "library", 0)] + [(str(n), f"/graphs/{graph_ids[n]}/edit", "editor", n)
                                                        for n in sizes]

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                context = signed_in_context(browser, url, cookie)
                runs: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in pages}
                failures: list[str] = []
                result["failed_loads"] = failures
                for label, path, kind, n in pages[:2]:  # warm-up: HTTP cache (every editor loads the same JS)
                    load_retrying(context, url + path, kind, n, cards, failures=failures)
                reserve = (40 if args.profile else 5) + 45 * args.experiments
                for rep in range(args.repeats):
                    round_start = time.monotonic()
                    for label, path, kind, n in pages:
                        r = load_retrying(context, url + path, kind, n, cards, failures=failures)
                        runs[label].append(r)
                        print(f"  {label:>7} #{rep + 1}: HTML {r['response_end']:5.0f} ms, mounted "
                              f"{r['mounted_ms']:6.0f}, rendered {r['rendered_ms']:6.0f}, interactive "
                              f"{r['interactive_ms']:6.0f} (click->answer {r['click_to_response_ms']:4.0f})",
                              flush=True)
                    now = time.monotonic()
                    if rep + 1 < args.repeats and now - t_start + (now - round_start) + reserve > budget:
                        print(f"  stopping after {rep + 1} rounds to stay within --budget {budget:.0f} s")
                        break
                result["repeats"] = len(runs["library"])
                result["loads"] = runs
                result["summary"] = {label: summarise_loads(loads) for label, loads in runs.items()}
                result["timed_s"] = round(time.monotonic() - t_start, 1)

                if args.profile and time.monotonic() - t_start + reserve <= budget + 15:
                    print("profiling one load of the largest graph (CPU profile + trace) ...", flush=True)
                    big = max(sizes)
                    result["profile"] = load_once(context, url + f"/graphs/{graph_ids[big]}/edit", "editor",
                                                  big, cards, cpu_profile=True, trace_browser=browser)
                    paths = {label: path for label, path, *_ in pages}
                    paths["empty editor"] = f"/graphs/{empty_id}/edit"
                    result["server_get"] = server_build_times(url, paths, cookie)
                if args.experiments:
                    big = max(sizes)
                    print(f"experiments on {big} nodes ...", flush=True)
                    result["experiments"] = run_experiments(browser, url, f"/graphs/{graph_ids[big]}/edit",
                                                            args.experiments, cookie)
                browser.close()
                browser = None
        finally:
            if browser is not None:
                with contextlib.suppress(Exception):  # best effort: the Playwright driver may be gone
                    browser.close()
            stop_server(proc)
            if sys.exc_info()[0] is not None:  # failing: show what the server said
                print("server log (tail):\n" + (Path(tmp) / "server.log").read_text(errors="replace")[-3000:])
        result["server_log_tail"] = (Path(tmp) / "server.log").read_text(errors="replace")[-2000:]
    if "profile" in result:
        result["python_steps"] = python_steps(sizes)
    result["total_s"] = round(time.monotonic() - t_start, 1)
    result["machine"]["loadavg_end"] = list(os.getloadavg())

    out = args.out or ROOT / "bench" / "results" / f"editor-{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print_report(result, out)
    return 0


def summarise_loads(loads: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("response_end", "dom_content_loaded", "mounted_ms", "rendered_ms", "click_at_ms",
            "click_to_response_ms", "interactive_ms", "wall_s")
    out: dict[str, Any] = {key: summary([r[key] for r in loads]) for key in keys}
    out["main_thread_ms"] = {k: statistics.median(r["main_thread_ms"][k] for r in loads) for k in MAIN_THREAD}
    last = loads[-1]
    out.update(html_bytes=last["html_bytes"], dom_nodes=last["dom_nodes"], ws=last["ws"], tailwind=last["tailwind"],
               long_tasks_over_500ms=statistics.median(sum(1 for t in r["long_tasks"] if t[1] >= 500)
                                                       for r in loads))
    return out


def fmt(s: dict[str, float], scale: float = 1000) -> str:
    return f"{s['median'] / scale:.2f} s ({s['min'] / scale:.2f}–{s['max'] / scale:.2f})"


def print_report(result: dict[str, Any], out: Path) -> None:
    m = result["machine"]
    print(f"\nEditor load time — {result['date']}; {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, "
          f"load average {m['loadavg'][0]:.1f} -> {m['loadavg_end'][0]:.1f}; {m['chromium']}; "
          f"NiceGUI {m['nicegui']}, Playwright {m['playwright']}")
    summ = result["summary"]
    print(f"command: {result['command']}\nmedian (min–max) of {result['repeats']} loads; browser clock, "
          f"0 = navigation start; Tailwind CSS: {summ['library']['tailwind']}\n")
    base = summ["library"]["interactive_ms"]["median"]
    print("| page | HTML | HTML received | all nodes mounted | rendered | click → answer | **interactive** "
          "| ÷ baseline | ÷ target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, s in summ.items():
        name = "library `/` (baseline)" if label == "library" else f"editor, {label} nodes"
        inter = s["interactive_ms"]["median"]
        target = f"{inter / 1000 / TARGET_S:.1f}×" if label == str(TARGET_NODES) else ""
        mounted = "" if label == "library" else f"{s['mounted_ms']['median'] / 1000:.2f} s"
        print(f"| {name} | {s['html_bytes'] / 1024:.0f} KiB | {s['response_end']['median'] / 1000:.2f} s "
              f"| {mounted} | {fmt(s['rendered_ms'])} | {fmt(s['click_to_response_ms'])} "
              f"| **{fmt(s['interactive_ms'])}** | {inter / base:.1f}× | {target} |")
    if str(TARGET_NODES) in summ:
        inter = summ[str(TARGET_NODES)]["interactive_ms"]["median"] / 1000
        print(f"\ntarget ≤ {TARGET_S:.0f} s at {TARGET_NODES} nodes: {inter:.2f} s -> "
              f"{'met' if inter <= TARGET_S else 'MISSED'} ({inter / TARGET_S:.1f}× the target)")
    sizes = [n for n in result["sizes"] if str(n) in summ]
    if len(sizes) >= 2:
        xs, ys = sizes, [summ[str(n)]["interactive_ms"]["median"] for n in sizes]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        print(f"least-squares fit: interactive ≈ {(my - slope * mx) / 1000:.2f} s + {slope:.1f} ms × nodes")
    print("\nper load (medians): main-thread busy ms (CDP Performance.getMetrics), DOM nodes, websocket")
    print("| page | busy | script | style | layout | other | DOM nodes | long tasks ≥ 500 ms | ws received |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, s in summ.items():
        mt, ws = s["main_thread_ms"], s["ws"]["received"]
        print(f"| {label} | {mt['TaskDuration']:.0f} | {mt['ScriptDuration']:.0f} "
              f"| {mt['RecalcStyleDuration']:.0f} "
              f"| {mt['LayoutDuration']:.0f} | {mt['TaskOtherDuration']:.0f} | {s['dom_nodes']} "
              f"| {s['long_tasks_over_500ms']:.0f} | {ws['frames']} frames, {ws['bytes'] / 1024:.1f} KiB |")
    if "profile" in result:
        prof = result["profile"]
        print(f"\nprofiled load of {max(result['sizes'])} nodes (slower: profiler + tracing on): rendered "
              f"{prof['rendered_ms']:.0f} ms, interactive {prof['interactive_ms']:.0f} ms")
        print("  main-thread self time by kind (trace):", prof["trace"]["main_thread_self_ms"])
        print("  long tasks (start ms, length ms, split):")
        for t in prof["trace"]["long_tasks"]:
            print(f"    {t['start_ms']:6d} {t['ms']:6d}  {t['split_ms']}")
        cpu = prof["cpu_profile"]
        print(f"  JS CPU profile: {cpu['sampled_ms']} ms sampled; "
              f"self by script: {cpu['self_by_script_ms'][:8]}")
        print("  inclusive by function:")
        for name, ms in cpu["inclusive_by_function_ms"][:25]:
            print(f"    {ms:6d} ms  {name}")
        print("  self by function:")
        for name, ms in cpu["self_by_function_ms"][:15]:
            print(f"    {ms:6d} ms  {name}")
        print("\nserver GET (whole page built by Python + NiceGUI), median of 3:")
        for k, v in result["server_get"].items():
            print(f"  {k:>12}: {v['get_ms']['median']:5.0f} ms, {v['html_bytes'] / 1024:4.0f} KiB")
        print("editor's Python steps (ms, this process) and prop sizes (bytes):")
        for n, v in result["python_steps"].items():
            print(f"  {n:>4}: {v}")
    if "experiments" in result:
        print(f"\nexperiments, {max(result['sizes'])} nodes (rendered = node {CLICK_NODE} drawn), "
              "median (min–max):")
        print("| variant | rendered | click → answer | interactive | main thread busy | nodes in DOM |")
        print("|---|---|---|---|---|---|")
        for name, e in result["experiments"].items():
            print(f"| {name} | {fmt(e['rendered_ms'])} | {fmt(e['click_to_response_ms'])} | "
                  f"**{fmt(e['interactive_ms'])}** | {e['busy_ms']['median'] / 1000:.1f} s | "
                  f"{e['nodes_in_dom']['median']:.0f} |")
    print(f"\n{result['total_s']} s in all; JSON: {out}")


if __name__ == "__main__":
    sys.exit(main())
