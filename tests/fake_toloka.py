"""A local HTTP server that speaks the part of Toloka's REST API v1 the Toloka backend uses, for tests.

Pools, tasks (with validation errors), assignments in pages of `page_size`, pool closing, and API-key checks.
`work` plays a Toloker: it submits an assignment answering some of a pool's tasks.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeToloka:
    base_url: str
    api_key: str = "toloka-test-key"
    page_size: int = 2  # small, so every test crosses pages
    failure: int | None = None  # an HTTP status every call fails with, its message echoing the key sent
    input_spec: frozenset[str] = frozenset({"text", "item"})  # the project's input fields, all strings
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(1000))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def work(self, pool_id: str, user_id: str, labels_by_item: dict[str, str]) -> None:
        """A Toloker submits one assignment answering these items of the pool."""
        with self.lock:
            by_item = {t["input_values"]["item"]: t for t in self.tasks[pool_id]}
            self.assignments.append({
                "id": str(next(self.ids)), "pool_id": pool_id, "user_id": user_id, "status": "SUBMITTED",
                "tasks": [by_item[item] for item in labels_by_item],
                "solutions": [{"output_values": {"label": label}} for label in labels_by_item.values()],
            })

    def reset(self) -> None:
        with self.lock:
            self.pools.clear()
            self.tasks.clear()
            self.assignments.clear()
            self.requests.clear()
            self.page_size = 2
            self.input_spec = frozenset({"text", "item"})
            self.failure = None


def _handler(fake: FakeToloka) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.requests.append((method, url.path, body))
            if fake.failure is not None:  # as real APIs do, the message quotes the credentials it was sent
                sent = self.headers.get("Authorization")
                return self._reply(fake.failure, {"code": "ERROR", "message": f"Rejected {sent}"})
            if self.headers.get("Authorization") != f"ApiKey {fake.api_key}":
                return self._reply(401, {"code": "AUTHENTICATION_ERROR", "message": "Invalid API key"})
            path = url.path.removeprefix("/api/v1")
            with fake.lock:
                if method == "POST" and path == "/pools":
                    pool = {**body, "id": str(next(fake.ids)), "status": "CLOSED"}
                    fake.pools[pool["id"]] = pool
                    fake.tasks[pool["id"]] = []
                    return self._reply(201, pool)
                if method == "POST" and path == "/tasks":
                    return self._reply(201, self._create_tasks(body, query))
                if method == "POST" and path.startswith("/pools/") and path.endswith("/close"):
                    pool_id = path.split("/")[2]
                    if pool_id not in fake.pools:
                        return self._reply(404, {"code": "DOES_NOT_EXIST", "message": "Pool not found"})
                    fake.pools[pool_id]["status"] = "CLOSED"
                    return self._reply(202, {"id": str(next(fake.ids)), "type": "POOL.CLOSE", "status": "SUCCESS"})
                if method == "GET" and path == "/assignments":
                    return self._reply(200, self._assignments(query))
            return self._reply(404, {"code": "DOES_NOT_EXIST", "message": f"No route {method} {url.path}"})

        def _create_tasks(self, body: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
            items, errors = {}, {}
            for index, task in enumerate(body):
                values = task.get("input_values", {})
                if set(values) != fake.input_spec or not all(isinstance(v, str) for v in values.values()):
                    errors[str(index)] = {"code": "VALUE_REQUIRED",
                                          "message": f"input_values must be {sorted(fake.input_spec)}"}
                    continue
                stored = {**task, "id": str(next(fake.ids))}
                fake.tasks[task["pool_id"]].append(stored)
                items[str(index)] = stored
            if items and query.get("open_pool") == "true":
                fake.pools[body[0]["pool_id"]]["status"] = "OPEN"
            return {"items": items, "validation_errors": errors}

        def _assignments(self, query: dict[str, str]) -> dict[str, Any]:
            wanted = set(query.get("status", "").split(","))
            found = sorted((a for a in fake.assignments if a["pool_id"] == query["pool_id"]
                            and a["status"] in wanted and int(a["id"]) > int(query.get("id_gt", -1))),
                           key=lambda a: int(a["id"]))
            size = min(int(query.get("limit", 50)), fake.page_size)
            return {"items": found[:size], "has_more": len(found) > size}

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._route("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._route("POST")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def start_fake_toloka(port: int) -> tuple[FakeToloka, ThreadingHTTPServer]:
    fake = FakeToloka(base_url=f"http://127.0.0.1:{port}/api/v1")
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
