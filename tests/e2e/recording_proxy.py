"""RecordingProxy: a real HTTP proxy between amili-etl and the sandbox that records, faults and judges every request.

It shares nothing with the client: it reads the raw bytes on the wire, asks the sandbox's ledger itself, and
applies Amili's documented rules (API-NOTES.md, docs/delivery.md) on its own:

- (a) every JSON number in a POST body must have at most two fractional digits (money goes as `1234.50`);
- (b) a POST must not carry a key the sandbox already holds unless the client looked that key up after the key's
  previous POST was answered (ARM payment reservations are excepted: the docs make paymentId unique, so a resend
  is the documented way; ARM autopostings have no lookup at all, so any resend of a held posting counts).

Faults are injected only after the sandbox has processed and stored a POST: the proxy forwards it, throws the real
answer away and answers 500 or 502, or closes the connection without a byte. GETs and logins are never faulted.
Fault decisions are seeded per request content (not per arrival order), so concurrency does not change them.
"""

from __future__ import annotations

import asyncio
import decimal
import hashlib
import json
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn

__all__ = ["RecordingProxy", "Exchange", "AmountViolation", "ResendViolation", "KeyId"]

# (api, scope, key): the ledger's identity of an item; ARM documentNo is folded to lower case (ARM values are
# case-insensitive, so "n1" and "N1" are one document to ARM).
KeyId = tuple[str, str, str]

_API_PREFIXES = ("/arm/", "/collection/", "/ada/")
_LOGINS = ("/auth/", "/ada/authenticates")
# Hop-by-hop and length headers are the proxy's own business on each side.
_DROP_REQUEST = {b"host", b"content-length", b"connection", b"transfer-encoding", b"accept-encoding", b"keep-alive"}
_DROP_RESPONSE = {"content-length", "connection", "transfer-encoding", "content-encoding", "keep-alive"}


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy saw it, the sandbox's real answer, and what the client got instead."""

    seq: int
    method: str
    path: str
    query: str
    upstream_status: int
    client_status: str  # "200", "500", "502", "drop"
    keys: tuple[KeyId, ...]


@dataclass(frozen=True)
class AmountViolation:
    """A JSON number with more than two fractional digits in a POST body."""

    path: str
    field: str
    literal: str


@dataclass(frozen=True)
class ResendViolation:
    """A POST carrying a key the sandbox already held, with no lookup of it since its previous POST was answered."""

    key: KeyId
    path: str
    previous_post_seq: int
    last_lookup_seq: int | None


class _Dropped(Exception):
    """Raised inside the app to make uvicorn close the connection without a response."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        """Hide uvicorn's traceback for a deliberate connection drop."""
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _Dropped)


def _fold(api: str, key: str) -> str:
    """The key as the API compares it."""
    return key.casefold() if api == "arm.documents" else key


def _number_literals(raw: bytes) -> list[tuple[str, str]]:
    """(json path, literal) of every non-integer JSON number in `raw`, read as Decimal so the literal is kept."""
    try:
        data = json.loads(raw, parse_float=decimal.Decimal)
    except ValueError:
        return []
    found: list[tuple[str, str]] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")
        elif isinstance(node, decimal.Decimal):
            found.append((where, str(node)))

    walk(data, "$")
    return found


def _too_precise(literal: str) -> bool:
    """True when a number literal carries more than two fractional digits (trailing zeros included: 1.500 is not money)."""
    exponent = decimal.Decimal(literal).as_tuple().exponent
    return isinstance(exponent, int) and exponent < -2


class RecordingProxy:
    """Context manager: the proxy served by uvicorn in a daemon thread on 127.0.0.1; `.base_url` once entered."""

    def __init__(self, upstream: str, *, seed: int = 0, fault_share: float = 0.25, drop_share: float = 0.2) -> None:
        self.upstream = upstream.rstrip("/")
        self.seed = seed
        self.fault_share = fault_share
        self.drop_share = drop_share  # of the faulted POSTs; the rest answer 500 or 502, half each
        self.faults_enabled = True
        self.base_url = ""
        self.exchanges: list[Exchange] = []
        self.amount_violations: list[AmountViolation] = []
        self.resend_violations: list[ResendViolation] = []
        self.faults: Counter[str] = Counter()
        self._seq = 0
        self._posted: dict[KeyId, int] = {}  # seq at which the sandbox's answer to the key's latest POST came back
        self._looked_up: dict[KeyId, int] = {}  # seq at which the latest successful lookup of the key was forwarded
        self._batch_keys: dict[str, set[KeyId]] = {}  # batch id (ARM batchUuid, Collection batchId) -> keys it carried
        self._idem_keys: dict[tuple[str, str], set[KeyId]] = {}  # (orgId, Idempotency-Key) -> keys sent under it
        self._occurrences: Counter[str] = Counter()
        self._lock: asyncio.Lock | None = None
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- running --------------------------------------------------------------------------------------------

    def __enter__(self) -> RecordingProxy:
        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        config = uvicorn.Config(self, host="127.0.0.1", port=0, log_level="warning", log_config=None,
                                lifespan="on", access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="recording-proxy", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:  # waiting for a socket, not for timing: no effect on results
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("recording proxy did not start")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI app: lifespan opens and closes the upstream client; every HTTP request is proxied."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._lock = asyncio.Lock()
                    self._client = httpx.AsyncClient(base_url=self.upstream, timeout=60)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._client is not None:
                        await self._client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path, query = scope["method"], scope["path"], scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k not in _DROP_REQUEST]
        headers.append((b"accept-encoding", b"identity"))
        if method == "POST" and path.startswith(_API_PREFIXES) and not path.startswith(_LOGINS):
            await self._post(path, query, headers, body, send)
        else:
            await self._other(method, path, query, headers, body, send)

    # --- the two kinds of request ---------------------------------------------------------------------------

    async def _post(self, path: str, query: str, headers: list[tuple[bytes, bytes]], body: bytes, send: Any) -> None:
        """Judge, forward and maybe fault one API POST; serialised, so the ledger read and the store are one step."""
        assert self._lock is not None
        for where, literal in _number_literals(body):
            if _too_precise(literal):
                self.amount_violations.append(AmountViolation(path, where, literal))
        keys, checked, batch_scope = self._keys(path, body)
        async with self._lock:
            if checked:
                held = await self._held()
                for key in checked:
                    if key in held and self._looked_up.get(key, -1) <= self._posted.get(key, -1):
                        self.resend_violations.append(ResendViolation(key, path, self._posted.get(key, -1), self._looked_up.get(key)))
            resp = await self._forward("POST", path, query, headers, body)
            self._seq += 1
            for key in keys:
                self._posted[key] = self._seq
            self._note_batch(path, headers, resp, keys, batch_scope)
            fault = self._draw(path, body)
            self.exchanges.append(Exchange(self._seq, "POST", path, query, resp.status_code, fault or str(resp.status_code), tuple(keys)))
        if fault is None:
            await self._reply(resp, send)
            return
        self.faults[fault] += 1
        if fault == "drop":
            try:  # a header value with a line break makes uvicorn refuse the start before a byte is written
                await send({"type": "http.response.start", "status": 502, "headers": [(b"x-proxy-fault", b"drop\r\n")]})
            except Exception:  # noqa: BLE001 - the refusal is the point
                pass
            raise _Dropped("recording proxy: connection dropped after the sandbox stored the request")
        text = b'{"message": "proxy fault after the request was stored"}'
        await send({"type": "http.response.start", "status": int(fault),
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(text)).encode())]})
        await send({"type": "http.response.body", "body": text})

    async def _other(self, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]], body: bytes, send: Any) -> None:
        """Forward a GET, a login or anything else untouched; a successful GET may count as a lookup of keys."""
        self._seq += 1  # a lookup informs only about POSTs answered before it was forwarded (lower seq)
        start = self._seq
        resp = await self._forward(method, path, query, headers, body)
        keys: set[KeyId] = set()
        if method == "GET" and 200 <= resp.status_code < 300:
            keys = self._lookup_keys(path, query, resp)
            for key in keys:
                self._looked_up[key] = max(self._looked_up.get(key, -1), start)
        self.exchanges.append(Exchange(start, method, path, query, resp.status_code, str(resp.status_code), tuple(sorted(keys))))
        await self._reply(resp, send)

    async def _forward(self, method: str, path: str, query: str, headers: list[tuple[bytes, bytes]], body: bytes) -> httpx.Response:
        assert self._client is not None
        url = path + (f"?{query}" if query else "")
        return await self._client.request(method, url, content=body, headers=headers)

    async def _reply(self, resp: httpx.Response, send: Any) -> None:
        # The sandbox writes its own address into batchUrl: point it back at the proxy, so polls pass through here.
        content = resp.content.replace(self.upstream.encode(), self.base_url.encode())
        headers = [(k.encode("latin-1"), v.replace(self.upstream, self.base_url).encode("latin-1"))
                   for k, v in resp.headers.items() if k.lower() not in _DROP_RESPONSE]
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": resp.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _held(self) -> set[KeyId]:
        """Keys the sandbox holds right now (accepted at least once), asked of the sandbox directly."""
        assert self._client is not None
        items = (await self._client.get("/_sandbox/ledger")).json()["items"]
        return {(i["api"], str(i["scope"]), _fold(i["api"], str(i["key"]))) for i in items if i["accepted"] >= 1}

    def _draw(self, path: str, body: bytes) -> str | None:
        """The fault for this POST: seeded by its content and how often that content came, never by arrival order."""
        if not self.faults_enabled:
            return None
        digest = hashlib.sha256(path.encode() + b"\0" + body).hexdigest()
        self._occurrences[digest] += 1
        rng = random.Random(f"{self.seed}:{digest}:{self._occurrences[digest]}")
        if rng.random() >= self.fault_share:
            return None
        if rng.random() < self.drop_share:
            return "drop"
        return rng.choice(("500", "502"))

    # --- keys -----------------------------------------------------------------------------------------------

    def _keys(self, path: str, body: bytes) -> tuple[list[KeyId], list[KeyId], str]:
        """(every key the POST carries, those that rule (b) applies to, its scope) read from the raw body."""
        try:
            data = json.loads(body)
        except ValueError:
            return [], [], ""
        parts = path.strip("/").split("/")
        if parts[0] == "arm" and len(parts) >= 4 and parts[1] == "clients":
            client, what = parts[2], parts[3:]
            if what == ["documents"] and isinstance(data, dict):
                doc = data.get("document") or {}
                keys = [("arm.documents", client, _fold("arm.documents", str(doc.get("documentNo"))))]
                return keys, keys, client
            if what == ["documents", "batches"] and isinstance(data, dict):
                keys = [("arm.documents", client, _fold("arm.documents", str(d.get("documentNo"))))
                        for d in data.get("documents") or [] if isinstance(d, dict)]
                return keys, keys, client
            if what == ["paymentreservations"] and isinstance(data, dict):
                res = data.get("paymentreservation") or {}
                return [("arm.paymentreservations", client, str(res.get("paymentId")))], [], client  # excepted by the docs
            if what[0] == "autopostings" and isinstance(data, dict):
                postings = [p for p in data.get("postings") or [] if isinstance(p, dict)]
                meta = data.get("metadata") or {}
                if meta.get("validateOnly") or any(p.get("validateOnly") for p in postings):
                    return [], [], client  # validate-only stores nothing
                keys = [("arm.autopostings", client, f"{p.get('arItemId')}/{p.get('voucherNo') or p.get('voucherDate')}")
                        for p in postings]
                return keys, keys, client
        if parts[:2] == ["collection", "v1"] and len(parts) == 5 and parts[2] == "orgs" and parts[4] == "payments":
            org = parts[3]
            payments = data.get("payments") if isinstance(data, dict) else None
            keys = [("collection.payments", org, str(p.get("uniqueSourcePaymentId")))
                    for p in payments or [] if isinstance(p, dict)]
            return keys, keys, org
        if path.rstrip("/") == "/ada/creditor--payments":
            docs = data if isinstance(data, list) else [data]
            keys = [("ada.creditor-payments", str(d.get("creditor")), str(d.get("creditor_payment_reference")))
                    for d in docs if isinstance(d, dict) and d.get("creditor_payment_reference") is not None]
            return keys, keys, ""
        return [], [], ""

    def _note_batch(self, path: str, headers: list[tuple[bytes, bytes]], resp: httpx.Response, keys: list[KeyId], scope: str) -> None:
        """Remember which batch id (and Idempotency-Key) carried which keys, from the sandbox's real answer."""
        try:
            answer = resp.json()
        except ValueError:
            return
        if isinstance(answer, str):  # a body that is a JSON string holding the JSON (as one of Amili's pages prints it)
            try:
                answer = json.loads(answer)
            except ValueError:
                return
        if not isinstance(answer, dict):
            return
        data = answer.get("data")
        batch = answer.get("batchUuid") or (data.get("batchId") if isinstance(data, dict) else None)
        if batch:
            self._batch_keys.setdefault(str(batch), set()).update(keys)
        if "/collection/" in path:
            idem = next((v.decode() for k, v in headers if k.lower() == b"idempotency-key"), None)
            if idem is not None:
                self._idem_keys.setdefault((scope, idem), set()).update(keys)

    def _lookup_keys(self, path: str, query: str, resp: httpx.Response) -> set[KeyId]:
        """The keys whose fate a successful GET tells the client (the documented lookups, plus batch reads)."""
        params = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        parts = path.strip("/").split("/")
        posted = self._posted
        if parts[0] == "arm" and len(parts) >= 4 and parts[1] == "clients":
            client = parts[2]
            if parts[3:] == ["documents"]:
                if "documentno" in params:
                    return {("arm.documents", client, _fold("arm.documents", params["documentno"]))}
                return {k for k in posted if k[0] == "arm.documents" and k[1] == client}  # an unfiltered list shows them all
            if len(parts) == 5 and parts[3] == "batches" and resp.status_code in (200, 206):  # 202: still processing
                return set(self._batch_keys.get(parts[4], ()))
        if parts[:2] == ["collection", "v1"]:
            if len(parts) == 5 and parts[2] == "orgs" and parts[4] == "batches":
                org = parts[3]
                if "idempotencykey" in params:
                    return set(self._idem_keys.get((org, params["idempotencykey"]), ()))
                return {k for k in posted if k[0] == "collection.payments" and k[1] == org}
            if (len(parts) == 6 and parts[2] == "orgs" and parts[4] == "batches") or (len(parts) == 4 and parts[2] == "batches"):
                return set(self._batch_keys.get(parts[-1], ()))
        if path.rstrip("/") == "/ada/creditor--payments" and "where" in params:
            try:
                where = json.loads(params["where"])
            except ValueError:
                return set()
            ref = where.get("creditor_payment_reference") if isinstance(where, dict) else None
            refs = ref.get("$in", []) if isinstance(ref, dict) else [ref]
            creditor = where.get("creditor") if isinstance(where, dict) else None
            return {k for k in posted if k[0] == "ada.creditor-payments" and k[2] in {str(r) for r in refs}
                    and (creditor is None or k[1] == str(creditor))}
        return set()
