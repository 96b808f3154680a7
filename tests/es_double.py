"""A loopback stand-in for the Elasticsearch REST API, for tests: NOT Elasticsearch.

It speaks enough of the API for the official client and our admin code: ``GET /`` (with the
``X-Elastic-Product`` header the client checks), ``_bulk`` (NDJSON, ``require_alias``, strict
dynamic mapping checked against the index's mappings), ``_refresh``, ``_count``, ``_doc``,
index/alias/template endpoints, ``_reindex``, ``_aliases``, ``_cluster/health``. It records every
request and injects faults on demand (429 storms, 503, connection resets, per-document
rejections, per-item 429s, 401).

It does not search: ``_search`` answers 501 unless a test sets ``canned_search`` (then it answers
that body verbatim, so tests can check what the backend *sends* and how it *parses* a response).
Search behaviour is the job of tests/test_backend_contract.py against a real cluster.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import json
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ES_VERSION = "9.1.0"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int | None = None  # None: the connection was dropped without an answer

    def json(self) -> Any:
        return json.loads(self.body)

    def ndjson(self) -> list[Any]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class Faults:
    bulk_429: int = 0  # the next N _bulk requests answer 429 as a whole
    bulk_503: int = 0  # the next N _bulk requests answer 503 as a whole
    any_503: int = 0  # the next N requests of any kind answer 503
    reset: int = 0  # the next N requests matching reset_path are dropped (TCP RST, no answer)
    reset_path: str = "/_bulk"
    reject: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (type, reason)
    item_429: dict[str, int] = field(default_factory=dict)  # id -> times its item gets 429
    required_auth: str | None = None  # the Authorization header value accepted; else 401


class _Dropped(Exception):
    pass


class EsDouble:
    """``with EsDouble() as es: ... es.url ...``; state and records are plain attributes."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.indices: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, dict[str, dict[str, Any]]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.index_ops: Counter[str] = Counter()  # doc id -> successful index operations
        self.canned_search: dict[str, Any] | None = None
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> EsDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ inspection helpers

    def calls(self, method: str | None = None, path_part: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and path_part in r.path
            ]

    def docs(self, index_or_alias: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            out: dict[str, dict[str, Any]] = {}
            for name in self._resolve_read(index_or_alias):
                out.update(self.indices[name]["docs"])
            return out

    def alias_targets(self, alias: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self.aliases.get(alias, {}))

    # ------------------------------------------------------------------ state

    def _resolve_read(self, name: str) -> list[str]:
        if name in self.aliases:
            return sorted(self.aliases[name])
        if any(c in name for c in "*?"):
            return sorted(n for n in self.indices if fnmatch.fnmatchcase(n, name))
        return [name] if name in self.indices else []

    def _write_index(self, alias: str) -> str | None:
        targets = self.aliases.get(alias, {})
        for index, props in targets.items():
            if props.get("is_write_index"):
                return index
        return next(iter(targets)) if len(targets) == 1 else None

    def _create_index(self, name: str, body: dict[str, Any]) -> None:
        mappings = body.get("mappings")
        settings = body.get("settings", {})
        if mappings is None:
            matching = [
                t
                for t in self.templates.values()
                if any(fnmatch.fnmatchcase(name, p) for p in t.get("index_patterns", []))
            ]
            if matching:
                best = max(matching, key=lambda t: t.get("priority", 0))
                mappings = best.get("template", {}).get("mappings")
                settings = best.get("template", {}).get("settings", {})
        self.indices[name] = {"docs": {}, "mappings": mappings or {}, "settings": settings}
        for alias, props in (body.get("aliases") or {}).items():
            self.aliases.setdefault(alias, {})[name] = dict(props)

    def _add_alias(self, index: str, alias: str, props: dict[str, Any]) -> None:
        self.aliases.setdefault(alias, {})[index] = props

    def _remove_alias(self, index: str, alias: str) -> None:
        targets = self.aliases.get(alias, {})
        targets.pop(index, None)
        if not targets:
            self.aliases.pop(alias, None)


def _strict_violation(mapping: dict[str, Any], doc: dict[str, Any], where: str) -> str | None:
    """What ES says for a field a strict mapping does not know (checked recursively)."""
    if mapping.get("dynamic") not in ("strict", None) or not mapping.get("properties"):
        return None
    props = mapping["properties"]
    for key, value in doc.items():
        if key not in props:
            return (
                f"[1:1] mapping set to strict, dynamic introduction of [{key}] within "
                f"[{where}] is not allowed"
            )
        sub = props[key]
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and "properties" in sub:
                found = _strict_violation({"dynamic": "strict", **sub}, item, key)
                if found:
                    return found
    return None


def _error(status: int, etype: str, reason: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "root_cause": [{"type": etype, "reason": reason}],
            "type": etype,
            "reason": reason,
        },
        "status": status,
    }


def _handler_for(es: EsDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _respond(self, record: Recorded, status: int, body: Any) -> None:
            payload = b"" if self.command == "HEAD" else json.dumps(body).encode()
            record.status = status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _drop(self) -> None:
            # SO_LINGER 0: close() sends a TCP RST, the client sees "connection reset".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            record = Recorded(
                method=self.command,
                path=unquote(parts.path),
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},  # case-insensitive
                body=body,
            )
            with es._lock:
                es.requests.append(record)
                if es.faults.reset and es.faults.reset_path in record.path:
                    es.faults.reset -= 1
                    self._drop()
                    return
                status, answer = self._route(record)
            self._respond(record, status, answer)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        def finish(self) -> None:
            with contextlib.suppress(OSError):  # the socket was dropped on purpose
                super().finish()

        # -------------------------------------------------------------- routing

        def _route(self, r: Recorded) -> tuple[int, Any]:
            f = es.faults
            if f.required_auth is not None and r.headers.get("authorization") != f.required_auth:
                return _error(401, "security_exception", "unable to authenticate user")
            if f.any_503:
                f.any_503 -= 1
                return _error(503, "unavailable", "the double is pretending to be down")
            segs = [s for s in r.path.split("/") if s]
            m = r.method
            if not segs:
                return 200, _info()
            if segs[-1] == "_bulk":
                return self._bulk(r, segs[0] if len(segs) == 2 else None)
            if segs[0] == "_cluster" and segs[1:] == ["health"]:
                return 200, {"cluster_name": "es-double", "status": "green", "number_of_nodes": 1}
            if segs[0] == "_index_template":
                return self._template(m, segs[1], r)
            if segs[0] == "_alias":
                return self._get_alias(segs[1], None)
            if segs[0] == "_aliases" and m == "POST":
                return self._aliases(r.json()["actions"])
            if segs[0] == "_reindex":
                return self._reindex(r.json())
            if len(segs) == 1:
                return self._index(m, segs[0], r)
            if segs[1] == "_alias" and m == "PUT":
                es._add_alias(segs[0], segs[2], {})
                return 200, {"acknowledged": True}
            if segs[1] == "_alias":
                return self._get_alias(segs[2] if len(segs) > 2 else None, segs[0])
            if segs[1] == "_refresh":
                return self._needs_index(segs[0]) or (200, {"_shards": {"failed": 0}})
            if segs[1] == "_count":
                missing = self._needs_index(segs[0])
                return missing or (200, {"count": len(es.docs(segs[0]))})
            if segs[1] == "_doc" and m == "GET":
                return self._get_doc(segs[0], segs[2])
            if segs[1] == "_search":
                if es.canned_search is None:
                    return _error(501, "not_implemented", "the ES double does not search")
                return 200, es.canned_search
            return _error(400, "unsupported_by_double", f"{m} {r.path}")

        def _needs_index(self, name: str) -> tuple[int, Any] | None:
            if es._resolve_read(name):
                return None
            return _error(404, "index_not_found_exception", f"no such index [{name}]")

        def _template(self, m: str, name: str, r: Recorded) -> tuple[int, Any]:
            if m == "PUT":
                es.templates[name] = r.json()
                return 200, {"acknowledged": True}
            if name not in es.templates:
                return _error(404, "resource_not_found_exception", f"index template [{name}]")
            return 200, {"index_templates": [{"name": name, "index_template": es.templates[name]}]}

        def _index(self, m: str, name: str, r: Recorded) -> tuple[int, Any]:
            if m == "PUT":
                if name in es.indices:
                    return _error(400, "resource_already_exists_exception", f"[{name}] exists")
                es._create_index(name, r.json() if r.body else {})
                return 200, {"acknowledged": True, "index": name}
            if m == "DELETE":
                es.indices.pop(name, None)
                for alias in list(es.aliases):
                    es._remove_alias(name, alias)
                return 200, {"acknowledged": True}
            if name in es.indices:
                return 200, {name: es.indices[name]}
            return _error(404, "index_not_found_exception", f"no such index [{name}]")

        def _get_alias(self, alias: str | None, index: str | None) -> tuple[int, Any]:
            out: dict[str, Any] = {}
            names = es._resolve_read(index) if index else sorted(es.indices)
            for name in names:
                aliases = {
                    a: props
                    for a, targets in es.aliases.items()
                    for i, props in targets.items()
                    if i == name and (alias is None or a == alias)
                }
                if aliases or alias is None:
                    out[name] = {"aliases": aliases}
            if alias is not None and not out:
                return _error(404, "aliases_not_found_exception", f"alias [{alias}] missing")
            return 200, out

        def _aliases(self, actions: list[dict[str, Any]]) -> tuple[int, Any]:
            for action in actions:  # validate first: the real API is all-or-nothing
                ((kind, spec),) = action.items()
                if spec["index"] not in es.indices:
                    return _error(404, "index_not_found_exception", spec["index"])
            for action in actions:
                ((kind, spec),) = action.items()
                if kind == "add":
                    props = {k: v for k, v in spec.items() if k not in ("index", "alias")}
                    es._add_alias(spec["index"], spec["alias"], props)
                elif kind == "remove":
                    es._remove_alias(spec["index"], spec["alias"])
            return 200, {"acknowledged": True}

        def _reindex(self, body: dict[str, Any]) -> tuple[int, Any]:
            source, dest = body["source"]["index"], body["dest"]["index"]
            if dest not in es.indices:
                es._create_index(dest, {})
            docs = es.docs(source)
            es.indices[dest]["docs"].update({k: dict(v) for k, v in docs.items()})
            return 200, {
                "took": 3,
                "total": len(docs),
                "created": len(docs),
                "updated": 0,
                "failures": [],
            }

        def _get_doc(self, name: str, doc_id: str) -> tuple[int, Any]:
            missing = self._needs_index(name)
            if missing:
                return missing
            docs = es.docs(name)
            if doc_id not in docs:
                return 404, {"_index": name, "_id": doc_id, "found": False}
            return 200, {"_index": name, "_id": doc_id, "found": True, "_source": docs[doc_id]}

        # -------------------------------------------------------------- _bulk

        def _bulk(self, r: Recorded, path_index: str | None) -> tuple[int, Any]:
            f = es.faults
            if f.bulk_429:
                f.bulk_429 -= 1
                return _error(429, "es_rejected_execution_exception", "bulk queue is full")
            if f.bulk_503:
                f.bulk_503 -= 1
                return _error(503, "unavailable_shards_exception", "primary shard not active")
            lines = r.ndjson()
            items, i = [], 0
            while i < len(lines):
                ((op, meta),) = lines[i].items()
                source = lines[i + 1] if op != "delete" else None
                i += 1 if op == "delete" else 2
                items.append({op: self._bulk_item(op, meta, source, path_index, r)})
            errors = any(item[next(iter(item))]["status"] >= 300 for item in items)
            return 200, {"took": 1, "errors": errors, "items": items}

        def _bulk_item(
            self, op: str, meta: dict[str, Any], source: Any, path_index: str | None, r: Recorded
        ) -> dict[str, Any]:
            target = meta.get("_index") or path_index or ""
            doc_id = str(meta.get("_id"))
            base = {"_index": target, "_id": doc_id}

            def err(status: int, etype: str, reason: str) -> dict[str, Any]:
                return {**base, "status": status, "error": {"type": etype, "reason": reason}}

            require_alias = r.query.get("require_alias") == "true"
            index = es._write_index(target) if target in es.aliases else None
            if index is None and not require_alias and target in es.indices:
                index = target
            if index is None:
                return err(
                    404,
                    "index_not_found_exception",
                    f"no such index [{target}] and [require_alias] request flag is "
                    f"[true] and [{target}] is not an alias",
                )
            base["_index"] = index
            if doc_id in es.faults.reject:
                etype, reason = es.faults.reject[doc_id]
                return err(400, etype, reason)
            if es.faults.item_429.get(doc_id, 0) > 0:
                es.faults.item_429[doc_id] -= 1
                return err(429, "es_rejected_execution_exception", "rejected execution")
            docs = es.indices[index]["docs"]
            if op == "delete":
                if docs.pop(doc_id, None) is None:
                    return {**base, "status": 404, "result": "not_found"}
                return {**base, "status": 200, "result": "deleted"}
            violation = _strict_violation(es.indices[index]["mappings"], source, "_doc")
            if violation:
                return err(400, "strict_dynamic_mapping_exception", violation)
            created = doc_id not in docs
            docs[doc_id] = source
            es.index_ops[doc_id] += 1
            return {
                **base,
                "status": 201 if created else 200,
                "result": "created" if created else "updated",
            }

    return Handler


def _info() -> dict[str, Any]:
    return {
        "name": "es-double",
        "cluster_name": "es-double",
        "cluster_uuid": "double",
        "version": {"number": ES_VERSION, "build_flavor": "default", "lucene_version": "10.2.2"},
        "tagline": "You Know, for Search",
    }


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released): the "unreachable host"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
