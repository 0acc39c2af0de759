"""A local HTTP server speaking the parts of HubSpot's CRM v3 API the connector uses.

Objects (contacts, companies) with unique id properties, batch read/update/upsert/archive with
per-record 207 errors, paged listing, properties and property groups, manual lists and their
memberships; a rolling request limit answering 429 with ``policyName`` like HubSpot; a write batch
naming one record twice refused whole with 400 ``VALIDATION_ERROR``, as HubSpot does; and faults
that tests inject: 429 storms (ten-secondly or daily, with or without Retry-After), 5xx,
timeouts (the write is applied, then the answer comes too late), rejected records and records
locked for a while (a 207 error HubSpot expects the caller to retry).
"""

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

TOKEN = "pat-test-token"
_UNIQUE = {"contacts": "email", "companies": "cdp_account_id"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Fault:
    """A fault served instead of (or, for timeouts, after) the normal answer.

    Attributes:
        kind: ``429`` (ten-secondly), ``429_daily``, ``500``, ``503`` or ``timeout``.
        path: Only requests whose path contains this.
        times: How many requests it hits.
        retry_after: Retry-After seconds sent with a 429, or None.
        delay_s: For ``timeout``: how long to stall before answering.
    """

    kind: str
    path: str = ""
    times: int = 1
    retry_after: float | None = None
    delay_s: float = 1.0


@dataclass
class FakeHubSpot:
    """The server's state, readable by tests."""

    rate_limit: int | None = None
    window_s: float = 10.0
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"contacts": {}, "companies": {}}
    )
    properties: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"contacts": {}, "companies": {}}
    )
    groups: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"contacts": {}, "companies": {}}
    )
    lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    locked: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, int, int]] = field(default_factory=list)
    next_id: int = 1000
    unique_index: dict[str, dict[str, str]] = field(default_factory=lambda: {"contacts": {}, "companies": {}})
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: deque = field(default_factory=deque)

    def inject(self, kind: str, path: str = "", times: int = 1, **kwargs: Any) -> None:
        """Queue a fault for the next ``times`` requests whose path contains ``path``."""
        with self.lock:
            self.faults.append(Fault(kind, path, times, **kwargs))

    def writes(self) -> list[tuple[str, int, int]]:
        """(path, inputs, status) of every batch write request received (reads excluded)."""
        with self.lock:
            return [(p, n, s) for _, p, n, s in self.calls if "/batch/" in p and not p.endswith("/read")]

    def add(
        self, object_type: str, properties: dict[str, str], updated_at: str = "2026-10-01T09:30:00.000Z"
    ) -> str:
        """Create an object as if someone had entered it in HubSpot; return its id."""
        with self.lock:
            self.next_id += 1
            ident = str(self.next_id)
            self.objects[object_type][ident] = {
                "id": ident,
                "properties": {**properties, "hs_object_id": ident},
                "createdAt": updated_at,
                "updatedAt": updated_at,
            }
            unique = properties.get(_UNIQUE[object_type])
            if unique is not None:
                self.unique_index[object_type][unique.lower()] = ident
            return ident

    def by_unique(self, object_type: str, value: str) -> dict[str, Any] | None:
        """The object whose unique id property equals ``value``."""
        ident = self.unique_index[object_type].get(value)
        return None if ident is None else self.objects[object_type].get(ident)

    def duplicates(self, object_type: str) -> list[str]:
        """Unique-property values held by more than one object (always empty unless a bug)."""
        unique = _UNIQUE[object_type]
        values = [o["properties"].get(unique) for o in self.objects[object_type].values()]
        return sorted({v for v in values if v is not None and values.count(v) > 1})


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        hub = self.server.hub
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        count = (
            len(body.get("inputs", []))
            if isinstance(body, dict)
            else len(body)
            if isinstance(body, list)
            else 0
        )
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(
                method,
                url.path,
                count,
                401,
                {
                    "status": "error",
                    "category": "INVALID_AUTHENTICATION",
                    "message": "Authentication credentials not found.",
                },
            )
        fault = self._fault(url.path)
        if fault is not None and fault.kind != "timeout":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if fault.kind.startswith("429"):
                policy = "DAILY" if fault.kind == "429_daily" else "TEN_SECONDLY_ROLLING"
                return self._reply(method, url.path, count, 429, _limit_body(policy), headers)
            return self._reply(
                method,
                url.path,
                count,
                int(fault.kind),
                {"status": "error", "category": "INTERNAL_ERROR", "message": "Internal error"},
            )
        if not self._within_limit():
            return self._reply(method, url.path, count, 429, _limit_body("TEN_SECONDLY_ROLLING"))
        with hub.lock:
            status, payload = _route(hub, method, url.path, parse_qs(url.query), body)
        if fault is not None:
            time.sleep(fault.delay_s)
        self._reply(method, url.path, count, status, payload)

    def _fault(self, path: str) -> Fault | None:
        hub = self.server.hub
        with hub.lock:
            for fault in hub.faults:
                if fault.times > 0 and fault.path in path:
                    fault.times -= 1
                    return fault
        return None

    def _within_limit(self) -> bool:
        hub = self.server.hub
        if hub.rate_limit is None:
            return True
        now = time.monotonic()
        with hub.lock:
            while hub._seen and hub._seen[0] <= now - hub.window_s:
                hub._seen.popleft()
            if len(hub._seen) >= hub.rate_limit:
                return False
            hub._seen.append(now)
            return True

    def _reply(
        self, method: str, path: str, count: int, status: int, payload: Any, headers: dict | None = None
    ) -> None:
        with self.server.hub.lock:
            self.server.hub.calls.append((method, path, count, status))
        data = b"" if status == 204 else json.dumps(payload).encode()
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _limit_body(policy: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": "You have reached your secondly limit."
        if policy != "DAILY"
        else "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "00000000-0000-0000-0000-000000000000",
        "policyName": policy,
    }


def _route(hub: FakeHubSpot, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
        object_type = parts[3]
        if object_type not in hub.objects:
            return 404, {"status": "error", "message": f"Unknown object type {object_type}"}
        if len(parts) == 4 and method == "GET":
            return 200, _page(hub, object_type, query)
        if len(parts) == 6 and parts[4] == "batch" and method == "POST":
            return _batch(hub, object_type, parts[5], body)
    if parts[:3] == ["crm", "v3", "properties"] and len(parts) >= 4:
        object_type = parts[3]
        if len(parts) == 4:
            if method == "GET":
                return 200, {"results": list(hub.properties[object_type].values())}
            if body["name"] in hub.properties[object_type]:
                return 409, {
                    "status": "error",
                    "category": "OBJECT_ALREADY_EXISTS",
                    "message": "Property exists",
                }
            hub.properties[object_type][body["name"]] = body
            return 201, body
        if parts[4] == "groups":
            if method == "GET":
                return 200, {"results": list(hub.groups[object_type].values())}
            hub.groups[object_type][body["name"]] = body
            return 201, body
    if parts[:3] == ["crm", "v3", "lists"]:
        return _lists(hub, method, parts[3:], query, body)
    return 404, {"status": "error", "message": f"No route {method} {path}"}


def _page(hub: FakeHubSpot, object_type: str, query: dict) -> dict[str, Any]:
    limit = int(query.get("limit", ["10"])[0])
    if limit > 100:
        limit = 100
    after = int(query.get("after", ["0"])[0])
    wanted = query.get("properties", [""])[0].split(",")
    items = sorted(hub.objects[object_type].values(), key=lambda o: int(o["id"]))
    items = [o for o in items if int(o["id"]) > after]
    page = items[:limit]
    result = {"results": [_view(o, wanted) for o in page]}
    if len(items) > limit:
        result["paging"] = {"next": {"after": page[-1]["id"], "link": "?after=" + page[-1]["id"]}}
    return result


def _view(obj: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    props = {k: v for k, v in obj["properties"].items() if k in wanted or k == "hs_object_id"}
    return {
        "id": obj["id"],
        "properties": props,
        "createdAt": obj["createdAt"],
        "updatedAt": obj["updatedAt"],
        "archived": False,
    }


def _invalid(hub: FakeHubSpot, object_type: str, key: str, properties: dict[str, Any]) -> str | None:
    if key in hub.rejected:
        return f"Property values were not valid for {key}"
    if object_type == "contacts" and "email" in properties and not _EMAIL.match(str(properties["email"])):
        return f"Email address {properties['email']} is invalid"
    for name, value in properties.items():
        spec = hub.properties[object_type].get(name)
        if spec is None and name not in (
            "email",
            "firstname",
            "lastname",
            "domain",
            "name",
            "cdp_account_id",
        ):
            return f'Property "{name}" does not exist'
        if spec is not None and spec["type"] == "number" and value not in ("", None):
            try:
                float(value)
            except (TypeError, ValueError):
                return f"{value} was not a valid number for property {name}"
    return None


def _batch(hub: FakeHubSpot, object_type: str, action: str, body: dict) -> tuple[int, Any]:
    inputs = body.get("inputs", [])
    if len(inputs) > 100:
        return 400, {"status": "error", "category": "VALIDATION_ERROR", "message": "Batch input limit is 100"}
    if action in ("upsert", "update"):
        repeated = _repeated_ids(inputs, lower=action == "upsert")
        if repeated:
            return 400, {
                "status": "error",
                "message": f"Duplicate IDs found in batch input: [{', '.join(repeated)}]. IDs must be unique",
                "correlationId": "00000000-0000-0000-0000-000000000000",
                "context": {"ids": repeated},
                "category": "VALIDATION_ERROR",
            }
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    results, errors = [], []
    unique = _UNIQUE[object_type]
    for item in inputs:
        if action == "read":
            id_property = body.get("idProperty")
            obj = (
                hub.by_unique(object_type, str(item["id"]).lower())
                if id_property
                else hub.objects[object_type].get(str(item["id"]))
            )
            if obj is None:
                errors.append(
                    _error(
                        "OBJECT_NOT_FOUND",
                        "Could not get some objects, they may be deleted or not exist.",
                        item["id"],
                    )
                )
            else:
                results.append(_view(obj, body.get("properties", [])))
        elif action == "upsert":
            key = str(item["id"]).lower()
            props = {**item.get("properties", {}), item["idProperty"]: key}
            if key in hub.locked:
                errors.append(_error("LOCKED", "The object is locked by a running workflow", item["id"]))
                continue
            problem = _invalid(hub, object_type, key, props)
            if problem:
                errors.append(_error("VALIDATION_ERROR", problem, item["id"]))
                continue
            obj = hub.by_unique(object_type, key)
            new = obj is None
            if new:
                hub.next_id += 1
                obj = {
                    "id": str(hub.next_id),
                    "properties": {"hs_object_id": str(hub.next_id)},
                    "createdAt": now,
                }
                hub.objects[object_type][obj["id"]] = obj
            obj["properties"].update({k: _text(v) for k, v in props.items()})
            obj["updatedAt"] = now
            hub.unique_index[object_type][key] = obj["id"]
            # Like HubSpot, a write echoes the properties it was given (plus hs_object_id), not all.
            results.append({**_view(obj, list(item.get("properties", {}))), "new": new})
        elif action == "update":
            obj = hub.objects[object_type].get(str(item["id"]))
            problem = (
                "Object not found"
                if obj is None
                else _invalid(hub, object_type, obj["properties"].get(unique, ""), item.get("properties", {}))
            )
            if problem:
                errors.append(
                    _error("OBJECT_NOT_FOUND" if obj is None else "VALIDATION_ERROR", problem, item["id"])
                )
                continue
            obj["properties"].update({k: _text(v) for k, v in item["properties"].items()})
            obj["updatedAt"] = now
            results.append(_view(obj, list(item["properties"])))
        elif action == "archive":
            gone = hub.objects[object_type].pop(str(item["id"]), None)
            if gone is not None:
                hub.unique_index[object_type].pop(gone["properties"].get(unique, ""), None)
        else:
            return 404, {"status": "error", "message": f"Unknown batch action {action}"}
    if action == "archive":
        return 204, None
    payload: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if errors:
        payload.update(numErrors=len(errors), errors=errors)
        return 207, payload
    return (201 if action == "upsert" else 200), payload


def _repeated_ids(inputs: list[dict[str, Any]], *, lower: bool) -> list[str]:
    """Ids that more than one input names; upserts match unique values case-insensitively."""
    seen: dict[str, int] = {}
    for item in inputs:
        ident = str(item["id"]).lower() if lower else str(item["id"])
        seen[ident] = seen.get(ident, 0) + 1
    return [ident for ident, count in seen.items() if count > 1]


def _error(category: str, message: str, ident: Any) -> dict[str, Any]:
    return {"status": "error", "category": category, "message": message, "context": {"ids": [str(ident)]}}


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _lists(hub: FakeHubSpot, method: str, rest: list[str], query: dict, body: Any) -> tuple[int, Any]:
    if not rest and method == "POST":
        if any(item["name"] == body["name"] for item in hub.lists.values()):
            return 409, {"status": "error", "message": "A list with this name already exists"}
        hub.next_id += 1
        item = {
            "listId": str(hub.next_id),
            "name": body["name"],
            "objectTypeId": body["objectTypeId"],
            "processingType": body["processingType"],
        }
        hub.lists[item["listId"]] = item
        hub.members[item["listId"]] = set()
        return 200, {"list": item}
    if len(rest) == 4 and rest[0] == "object-type-id" and rest[2] == "name":
        for item in hub.lists.values():
            if item["objectTypeId"] == rest[1] and item["name"] == rest[3]:
                return 200, {"list": item}
        return 404, {"status": "error", "message": "List not found"}
    if len(rest) >= 2 and rest[1] == "memberships" and rest[0] in hub.lists:
        current = hub.members[rest[0]]
        if len(rest) == 2 and method == "GET":
            ordered = sorted(current, key=int)
            after = query.get("after", [None])[0]
            limit = min(int(query.get("limit", ["100"])[0]), 250)
            start = ordered.index(after) + 1 if after in ordered else 0
            page = ordered[start : start + limit]
            result: dict[str, Any] = {"results": [{"recordId": r} for r in page]}
            if start + limit < len(ordered):
                result["paging"] = {"next": {"after": page[-1]}}
            return 200, result
        ids = [str(i) for i in body]
        known = set(hub.objects["contacts"])
        if rest[2] == "add":
            current.update(i for i in ids if i in known)
            return 200, {
                "recordsIdsAdded": [i for i in ids if i in known],
                "recordIdsMissing": [i for i in ids if i not in known],
            }
        removed = [i for i in ids if i in current]
        current.difference_update(ids)
        return 200, {"recordIdsRemoved": removed, "recordIdsMissing": [i for i in ids if i not in removed]}
    return 404, {"status": "error", "message": "Not found"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: FakeHubSpot


def start(rate_limit: int | None = None, window_s: float = 10.0) -> tuple[_Server, FakeHubSpot, str]:
    """Start the server on 127.0.0.1 on a free port, in a background thread.

    Args:
        rate_limit: Requests per window before answering 429 TEN_SECONDLY_ROLLING; None: no limit.
        window_s: The rolling window in seconds.

    Returns:
        (server, its state, base URL). Call ``server.shutdown()`` when done.
    """
    server = _Server(("127.0.0.1", 0), _Handler)
    server.hub = FakeHubSpot(rate_limit=rate_limit, window_s=window_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.hub, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    """Serve until interrupted: ``python -m tests.fakes.hubspot_server [--port N] [--rate-limit N]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Local HubSpot CRM v3 server for tests and benchmarks.")
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (0: a free one).")
    parser.add_argument("--rate-limit", type=int, default=None, help="Requests per window before 429.")
    parser.add_argument("--window", type=float, default=10.0, help="Rate-limit window in seconds.")
    args = parser.parse_args()
    server = _Server(("127.0.0.1", args.port), _Handler)
    server.hub = FakeHubSpot(rate_limit=args.rate_limit, window_s=args.window)
    print(f"HubSpot test server on http://127.0.0.1:{server.server_address[1]} (token {TOKEN})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
