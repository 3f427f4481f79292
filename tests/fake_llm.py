"""A local HTTP server that speaks the OpenAI chat-completions protocol, for tests of the LLM nodes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeLLM:
    """Speaks POST /v1/chat/completions. Records every request; answers from `script` (status, content,
    headers, delay) while it lasts, then with `reply(body)`. With a json_schema or json_object
    `response_format` the default reply is JSON built from `values` (the format is honoured)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[dict[str, Any]] = []
        self.values: dict[str, Any] = {}
        self.refuse_formats: set[str] = set()
        self.reply: Callable[[dict[str, Any]], str] = lambda body: "An answer."
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    fake.requests.append({"path": self.path, "headers": headers, "body": body})
                    step = fake.script.pop(0) if fake.script else {}
                time.sleep(step.get("delay", 0))
                status, content = step.get("status", 200), step.get("content")
                fmt = (body.get("response_format") or {}).get("type")
                if self.path != "/v1/chat/completions":
                    status, content = 404, {"error": {"message": "no such route"}}
                elif fmt in fake.refuse_formats:
                    status, content = 400, {"error": {"message": f"response_format {fmt} is not supported"}}
                elif content is None:
                    json_mode = fmt in ("json_schema", "json_object")
                    content = json.dumps(fake.values) if json_mode else fake.reply(body)
                if status == 200:
                    payload = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                               "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": content}}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                else:
                    payload = content if isinstance(content, dict) else {"error": {"message": content}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in step.get("headers", {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (timeout tests)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def user_texts(self) -> list[str]:
        return [r["body"]["messages"][-1]["content"] for r in self.requests]
