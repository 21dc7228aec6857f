"""A request whose fate is unknown is never repeated as it was: the transport's and clients' side of it, over real HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from etl.amili.delivery.clients import Clients
from etl.amili.delivery.collection import _chunks
from etl.amili.outcome import names_duplicate
from etl.amili.transport import AnswerLostError
from etl.config import Config
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from tests.e2e import delivery_support as ds

RESERVATION = {"paymentId": "P-1", "documentNo": "N0", "currency": "NOK", "currencyAmountPaid": 100.5,
               "paidTime": "2026-11-20T00:00:00Z"}


async def _reserve(config: Config) -> None:
    """One payment reservation through the real client (transport, auth, retries) of the ARM creditor."""
    clients = Clients(config)
    try:
        await clients.arm(config.creditor("arm-no")).create_reservation(RESERVATION)
    finally:
        await clients.transport.aclose()


def _posts(base_url: str, route: str) -> dict[str, int]:
    return ds.httpx.get(f"{base_url}/_sandbox/stats").json()["requests"].get(route, {})


@pytest.mark.parametrize("fault", ["500", "502", "503", "504", "reset"])
def test_a_post_that_may_have_been_processed_is_sent_once_and_raises_answer_lost(tmp_path: Path, fault: str) -> None:
    with EmbeddedSandbox(SandboxConfig(faults=f"{fault}=1.0")) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, {"max_attempts": 6}, apis=("arm",)))

        with pytest.raises(AnswerLostError):
            asyncio.run(_reserve(config))
        answers = _posts(sb.base_url, "POST /arm/clients/{clientno}/paymentreservations")
        assert sum(answers.values()) == 1, answers  # one request, never repeated by the transport


def test_a_post_refused_with_429_is_repeated_as_it_was(tmp_path: Path) -> None:
    # A 429 proves nothing was processed: the transport sends it again (here until its attempts are spent).
    with EmbeddedSandbox(SandboxConfig(faults="429=1.0")) as sb:
        config = ds.load(ds.write_config(tmp_path, sb.base_url, {"max_attempts": 3, "max_retry_time_s": 60}, apis=("arm",)))

        with pytest.raises(Exception) as raised:
            asyncio.run(_reserve(config))
        assert not isinstance(raised.value, AnswerLostError)
        assert _posts(sb.base_url, "POST /arm/clients/{clientno}/paymentreservations") == {"429": 3}


class _NotJson(BaseHTTPRequestHandler):
    """Answers every request 200 with an HTML page (a proxy's error page, a truncated answer)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body>Service temporarily unavailable</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@contextmanager
def _html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotJson)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_2xx_whose_body_is_not_json_leaves_the_fate_unknown(tmp_path: Path) -> None:
    with EmbeddedSandbox(SandboxConfig()) as sb, _html_server() as html:
        # Logins go to the sandbox; the ARM API itself answers 200 with an HTML page.
        path = ds.write_config(tmp_path, sb.base_url, apis=("arm",))
        path.write_text(path.read_text().replace(f'base_url = "{sb.base_url}/arm"', f'base_url = "{html}/arm"'))
        config = ds.load(path)

        with pytest.raises(AnswerLostError, match="not JSON"):
            asyncio.run(_reserve(config))


@pytest.mark.parametrize(("status", "body", "held"), [
    (409, {"status": "ERROR", "message": "paymentId P-1 already exists"}, True),
    (409, {"status": "ERROR", "message": "paymentId P-1 is already used by a different payment reservation"}, True),
    (422, {"_status": "ERR", "_issues": {"creditor_payment_reference": "value 'X' is not unique"}}, True),
    (409, {"_status": "ERR", "_error": {"code": 409, "message": "duplicate creditor_payment_reference 'X'"}}, True),
    (409, {"summary": {"status": "FAILED"}, "errors": [{"field": "payments[0].uniqueSourcePaymentId",
                                                          "message": "duplicate uniqueSourcePaymentId X"}]}, True),
    (422, {"status": "ERROR", "message": "No document or customer found for documentNo=N9"}, False),
    (422, {"status": "ERROR", "message": "invoice N9 does not exist"}, False),
    (404, {"message": "documentNo already exists"}, False),  # a 404 never means "held already"
    (500, {"message": "duplicate"}, False),
])
def test_a_refusal_means_held_already_only_when_it_names_a_duplicate(status: int, body: dict, held: bool) -> None:
    assert names_duplicate(status, body) is held


def test_a_collection_chunk_never_holds_two_payments_for_one_invoice() -> None:
    rows = pl.DataFrame({"key": [f"k{i}" for i in range(9)],
                         "_invoice": ["invoiceNumber:A"] * 4 + ["invoiceNumber:B"] * 2 + ["invoiceNumber:C", "invoiceNumber:D", "invoiceNumber:E"]})
    chunks = _chunks(rows, 2)
    invoice = dict(zip(rows.get_column("key"), rows.get_column("_invoice")))
    assert sorted(k for c in chunks for k in c) == sorted(rows.get_column("key"))  # every payment once
    assert all(len(c) <= 2 and len({invoice[k] for k in c}) == len(c) for c in chunks)
    assert all(c == sorted(c) for c in chunks)  # the same chunk again is byte for byte the same body
