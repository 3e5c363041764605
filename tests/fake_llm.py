"""A local HTTP server that speaks the OpenAI chat-completions API (streaming and not), for tests.

It answers marvin's final-result tool call, or fails the way a provider can: 401, 429, 500, a hang, or a
malformed tool call (its arguments cut off mid-JSON).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROWS = [{"group": "France", "count": 3}, {"group": "Spain", "count": 2}]
TEXT = "Most users live in France (3), then Spain (2)."


@dataclass
class FakeLLM:
    base_url: str
    mode: str = "ok"  # "ok", "401", "429", "500", "hang" or "malformed"
    text: str = TEXT  # the answer's text, when the model is asked for text
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)

    def prompts(self) -> str:
        return json.dumps([r.get("messages") for r in self.requests])


def _final_tool(body: dict[str, Any], text: str) -> tuple[str, dict[str, Any]]:
    for tool in body.get("tools", []):
        function = tool["function"]
        if function["name"].startswith("MarkTaskSuccessful"):
            items = function["parameters"]["properties"]["result"].get("items", {})
            wants_rows = items.get("type") == "object" or "$ref" in items
            return function["name"], {"result": ROWS if wants_rows else [text]}
    raise AssertionError(f"no final-result tool in {[t['function']['name'] for t in body.get('tools', [])]}")


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.auth_headers.append(self.headers.get("Authorization", ""))
            if fake.mode == "hang":
                time.sleep(30)
                return
            if fake.mode in ("401", "429", "500"):
                # Real providers echo part of the key; the project must never pass this text on.
                error = {"error": {"message": f"Incorrect API key provided: {fake.auth_headers[-1]}",
                                   "type": "invalid_request_error"}}
                self._send(int(fake.mode), "application/json", json.dumps(error).encode())
                return
            name, arguments = _final_tool(body, fake.text)
            written = json.dumps(arguments)
            call = {"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": name, "arguments": written[: len(written) // 2] if fake.mode == "malformed"
                                 else written}}
            if body.get("stream"):
                chunks = [
                    {"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]},
                                  "finish_reason": None}]},
                    {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
                ]
                events = "".join(
                    f"data: {json.dumps({'id': 'c1', 'object': 'chat.completion.chunk', 'created': 0, 'model': body['model'], **chunk})}\n\n"
                    for chunk in chunks
                ) + "data: [DONE]\n\n"
                self._send(200, "text/event-stream", events.encode())
            else:
                message = {"role": "assistant", "content": None, "tool_calls": [{k: v for k, v in call.items()
                                                                                 if k != "index"}]}
                completion = {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                              "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
                self._send(200, "application/json", json.dumps(completion).encode())

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def start_fake_llm(port: int) -> tuple[FakeLLM, ThreadingHTTPServer]:
    fake = FakeLLM(base_url=f"http://127.0.0.1:{port}/v1")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
