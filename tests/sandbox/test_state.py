"""State: persistence across a restart, the seed file, and the value helpers under it."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.values import kid_ok, minor_number, minor_str, parse_rfc1123, rfc1123, seed_minor, to_minor

from .support import ADA_EXAMPLE_SEED, ARM_EXAMPLE_SEED, ORG, RESERVATION_EXAMPLE, arm_login, ledger, seed

RESERVATIONS = "/arm/clients/2218/paymentreservations"


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "state" / "sandbox.json"
    config = SandboxConfig(state_file=state_file, batch_delay_s=0.05)
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        token = c.headers["Authorization"]
        seed(c, arm_documents=[ARM_EXAMPLE_SEED])
        assert c.post(RESERVATIONS, json=RESERVATION_EXAMPLE).status_code == 200
        batch = c.post(
            "/arm/clients/2218/documents/batches",
            json={"metadata": {}, "documents": [_doc("B1")]},
        ).json()["batchUuid"]
    # Written atomically on shutdown: one JSON file, no temp file left behind, and no access token in it.
    saved = state_file.read_bytes()
    assert orjson.loads(saved)["format"] == 1 and "tokens" not in orjson.loads(saved)
    assert token.split()[1].encode() not in saved
    assert [p.name for p in state_file.parent.iterdir()] == ["sandbox.json"]
    time.sleep(0.06)  # the batch becomes due while the server is down

    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url, headers={"Authorization": token}) as c:
        # Tokens are not kept across a restart: the old one is refused, a client logs in again on the 401.
        assert c.post(RESERVATIONS, json=RESERVATION_EXAMPLE).status_code == 401
        arm_login(c)
        again = c.post(RESERVATIONS, json=RESERVATION_EXAMPLE)
        assert again.status_code == 200
        item = ledger(c, "arm.paymentreservations")["PM285000350786"]
        assert (item["accepted"], item["duplicates_refused"]) == (1, 1)
        done = c.get(f"/arm/clients/2218/batches/{batch}")
        assert done.status_code == 200 and done.json()["items"][0]["result"] == "CREATED"
        # Numbering continues where it stopped.
        created = c.post("/arm/clients/2218/documents", json={"metadata": {}, "document": _doc("D2")}).json()
        assert created["referenceNo"] == 35080


def test_tokens_in_an_older_state_file_are_ignored(tmp_path: Path) -> None:
    from etl.sandbox.state import State

    state_file = tmp_path / "old.json"
    old = {"format": 1, "tokens": {"t0k3n": {"family": "bearer", "client_id": "sandbox", "expires_at": time.time() + 3600}}}
    state_file.write_bytes(orjson.dumps(old))
    state = State.open(state_file)
    assert state.tokens == {} and state.is_empty()
    with EmbeddedSandbox(SandboxConfig(state_file=state_file)) as sb, httpx.Client(base_url=sb.base_url) as c:
        assert c.get("/arm/clients/2218/documents", headers={"Authorization": "Bearer t0k3n"}).status_code == 401


def test_state_is_written_while_running(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    with EmbeddedSandbox(SandboxConfig(state_file=state_file, state_flush_s=0.05)) as sb, httpx.Client(base_url=sb.base_url) as c:
        seed(c, ada_cases=[ADA_EXAMPLE_SEED])
        # Written 0.05 s after the change at the earliest; a loaded machine may take much longer, so wait for it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if state_file.exists() and orjson.loads(state_file.read_bytes())["ada_cases"]:
                break
            time.sleep(0.02)
        else:
            pytest.fail("state file not written within 60 s")


def test_seed_file_is_loaded_at_start_but_never_over_existing_state(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_bytes(orjson.dumps({"collection_invoices": [{"organizationId": ORG, "invoiceId": "i1", "invoiceNumber": "n1", "amount": 5, "currency": "NOK"}]}))
    state_file = tmp_path / "state.json"
    config = SandboxConfig(seed_file=seed_file, state_file=state_file, batch_delay_s=0)
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        payment = {"invoiceId": "i1", "uniqueSourcePaymentId": "P1", "type": "DIRECT_PAYMENT", "amount": 5, "currency": "NOK", "date": "2025-01-01"}
        r = c.post(f"/collection/v1/orgs/{ORG}/payments", json={"organizationId": ORG, "payments": [payment]})
        batch = c.get(f"/collection/v1/batches/{r.json()['data']['batchId']}").json()["data"]
        assert batch["status"] == "SUCCESS"
    seed_file.write_bytes(orjson.dumps({"ada_cases": [ADA_EXAMPLE_SEED]}))  # changed seed: ignored, state wins
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        assert "P1" in ledger(c)
        stored = orjson.loads(state_file.read_bytes()) if state_file.exists() else {}
        assert stored.get("ada_cases") == {}


def test_bad_fault_spec_fails_at_start() -> None:
    with pytest.raises(ValueError):
        EmbeddedSandbox(SandboxConfig(faults="boom=1")).start()


def test_config_takes_plain_strings(tmp_path: Path) -> None:
    config = SandboxConfig(state_file=str(tmp_path / "s.json"), autoposting_methods=["payment"])  # type: ignore[arg-type]
    assert config.state_file == tmp_path / "s.json" and config.autoposting_methods == ("payment",)


def _doc(no: str) -> dict[str, object]:
    return {
        "documentType": "IN",
        "customerNo": "543210",
        "documentNo": no,
        "documentDate": "2025-01-01",
        "dueDate": "2025-01-15",
        "currency": "NOK",
        "currencyAmounts": {"inclVat": 10},
    }


# --- values -------------------------------------------------------------------------------------------


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_amounts_round_trip_through_json_floats(amount: Decimal) -> None:
    minor = to_minor(orjson.loads(orjson.dumps(float(amount))))
    assert minor == int(amount * 100)
    assert Decimal(minor_str(minor)) == amount
    assert to_minor(minor_number(minor)) == minor


def test_to_minor_refuses_non_numbers() -> None:
    for bad in ("1.00", True, None, [1]):
        with pytest.raises(ValueError):
            to_minor(bad)
    for noisy in (0.005, -0.005, 8855.710000000001, 0.1 + 0.2, 1e-7):  # refused, never rounded
        with pytest.raises(ValueError, match="two decimals"):
            to_minor(noisy)
    assert to_minor(8855.71) == 885571 and to_minor(-3.05) == -305 and to_minor(100.0) == 10000 and to_minor(1e16) == 10**18
    assert seed_minor(0.005) == 1 and seed_minor("-0.005") == -1  # seeds stay lenient: half-up, away from zero
    assert minor_str(-5) == "-0.05"


def test_dates_and_kids() -> None:
    assert parse_rfc1123("Fri, 04 Jul 2025 16:20:41 GMT") is not None
    assert parse_rfc1123("2025-07-04T16:20:41Z") is None
    assert parse_rfc1123(rfc1123(0)) is not None
    assert kid_ok("1234567897") and kid_ok("0000000000") and not kid_ok("500221850000200350786") and not kid_ok("12a")
