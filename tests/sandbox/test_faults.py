"""Faults, rate limit and latency: repeatable, sometimes after the item was stored, never on /auth or /_sandbox."""

from __future__ import annotations

import time

import httpx
import pytest

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.faults import FaultPlan, parse_faults

from .support import ARM_EXAMPLE_SEED, ORG, RESERVATION_EXAMPLE, ManualClock, ada_token, arm_login, bearer_token, ledger, seed

RESERVATIONS = "/arm/clients/2218/paymentreservations"


def reservation(payment_id: str) -> dict[str, object]:
    """The docs' reservation with another paymentId."""
    return {"metadata": {}, "paymentreservation": {**RESERVATION_EXAMPLE["paymentreservation"], "paymentId": payment_id}}


def attempt(c: httpx.Client, payment_id: str, timeout: float | None = None) -> str:
    """Send one reservation; the outcome as a status code, "timeout" or "reset"."""
    try:
        extra = {} if timeout is None else {"timeout": timeout}
        return str(c.post(RESERVATIONS, json=reservation(payment_id), **extra).status_code)
    except httpx.TimeoutException:
        return "timeout"
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return "reset"


def test_faults_strike_before_and_after_the_item_is_stored() -> None:
    config = SandboxConfig(faults="500=0.2,503=0.05,429=0.05,timeout=0.08,reset=0.12", fault_seed=11, timeout_sleep_s=3)
    # The sandbox draws one fault per API request, in order; the same plan here tells which request it holds back.
    # Only that one is sent with a short client timeout, which the 3 s hold always outlasts; every other answer
    # is waited for as long as a loaded machine needs, so a slow answer is never taken for a timeout fault.
    mirror = FaultPlan(config.faults, config.fault_seed, config.post_store_500_share)

    def send(pid: str) -> str:
        fault = mirror.draw()
        held = fault is not None and fault.kind == "timeout"
        outcome = attempt(c, pid, 0.25 if held else None)
        assert (outcome == "timeout") == held, (pid, fault, outcome)
        return outcome

    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url, timeout=60) as c:
        arm_login(c)  # /auth is never faulted
        seed(c, arm_documents=[ARM_EXAMPLE_SEED])  # nor is /_sandbox
        outcomes = {f"F{i:02d}": send(f"F{i:02d}") for i in range(60)}
        stored = ledger(c, "arm.paymentreservations")
        failed = {pid: kind for pid, kind in outcomes.items() if kind != "200"}
        after_store = {failed[pid] for pid in failed if pid in stored}
        before_store = {failed[pid] for pid in failed if pid not in stored}
        # Every kind that can strike after processing did so at least once with this seed...
        assert {"500", "timeout", "reset"} <= after_store
        # ...and 500s, 503s and 429s were also answered before anything was stored.
        assert {"500", "503", "429"} <= before_store

        # A client that retries with the same paymentId until it gets an answer stores each exactly once.
        for pid in failed:
            for _ in range(30):
                if send(pid) == "200":
                    break
            else:
                pytest.fail(f"{pid} never got through")
        final = ledger(c, "arm.paymentreservations")
        assert set(final) == set(outcomes)
        assert all(item["accepted"] == 1 for item in final.values())
        assert sum(item["duplicates_refused"] for item in final.values()) >= len([p for p in failed if p in stored])

        # A held request is counted once its hold is over (3 s after it came): wait for that, not for a fixed time.
        route = f"POST {RESERVATIONS.replace('2218', '{clientno}')}"
        deadline = time.monotonic() + 60
        while (stats := c.get("/_sandbox/stats").json()["requests"][route]).get("timeout", 0) == 0:
            assert time.monotonic() < deadline, stats
            time.sleep(0.1)
        assert {"200", "500", "503", "429", "timeout", "reset"} <= set(stats)


def test_same_seed_gives_the_same_faults() -> None:
    config = SandboxConfig(faults="500=0.3,503=0.2", fault_seed=3)
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)

        def run() -> list[str]:
            c.post("/_sandbox/reset")  # also restarts the fault sequence
            seed(c, arm_documents=[ARM_EXAMPLE_SEED])
            return [attempt(c, f"S{i}") for i in range(25)]

        first, second = run(), run()
        assert first == second
        assert {"200", "500", "503"} <= set(first)


def test_reset_drops_the_connection_without_a_response() -> None:
    with EmbeddedSandbox(SandboxConfig(faults="reset=1.0")) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        seed(c, arm_documents=[ARM_EXAMPLE_SEED])
        for i in range(6):
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                c.post(RESERVATIONS, json=reservation(f"R{i}"))
        assert c.get("/_sandbox/health").status_code == 200  # the server itself is fine


def test_auth_and_sandbox_are_never_faulted_and_503_says_retry_after() -> None:
    with EmbeddedSandbox(SandboxConfig(faults="503=1.0")) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        assert c.get("/_sandbox/ledger").status_code == 200
        assert c.post("/ada/authenticates/api-code", json={"api_code": "sandbox"}).status_code == 200
        r = c.get("/arm/clients/2218/documents")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["status"] == "ERROR"


def test_rate_limit_gives_429_with_retry_after() -> None:
    clock = ManualClock()  # the buckets refill only when the test moves it, not while a slow machine works
    with EmbeddedSandbox(SandboxConfig(rate_limit=2, clock=clock)) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm_login(c)
        answers = [c.get("/arm/clients/2218/documents") for _ in range(5)]
        assert [r.status_code for r in answers] == [200, 200, 429, 429, 429]  # a burst of N is allowed
        limited = answers[2]
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["result"] == "TOO_MANY_REQUESTS"
        assert c.get("/_sandbox/stats").status_code == 200  # introspection is not limited
        clock.advance(0.5)  # 2 per second: one more request is allowed after 0.5 s
        assert c.get("/arm/clients/2218/documents").status_code == 200
        assert c.get("/arm/clients/2218/documents").status_code == 429


def test_latency_is_added_to_api_requests_only() -> None:
    # Two minutes of latency: an API request cannot be answered within the client's 0.5 s however fast the
    # machine is, while logins and /_sandbox answer within the generous default however slow it is.
    with EmbeddedSandbox(SandboxConfig(latency_ms=120_000)) as sb, httpx.Client(base_url=sb.base_url, timeout=60) as c:
        arm_login(c)
        assert c.get("/_sandbox/health").status_code == 200
        assert c.post("/ada/authenticates/api-code", json={"api_code": "sandbox"}).status_code == 200
        with pytest.raises(httpx.TimeoutException):
            c.get("/arm/clients/2218/documents", timeout=0.5)
        assert c.get("/_sandbox/health").status_code == 200  # a request held by latency holds up no other


def test_fault_spec_parsing() -> None:
    assert parse_faults("500=0.05, 503=0.02,timeout=0.01,RESET=0.01") == {"500": 0.05, "503": 0.02, "timeout": 0.01, "reset": 0.01}
    assert parse_faults(None) == {} and parse_faults("") == {}
    for bad in ("500", "200=0.1", "boom=0.1", "500=x", "500=1.5", "500=0.6,503=0.6"):
        with pytest.raises(ValueError):
            parse_faults(bad)
    assert not FaultPlan(None, 0, 0.5)
    plan = FaultPlan("500=1.0", 0, post_store_500_share=1.0)
    fault = plan.draw()
    assert fault is not None and fault.kind == "500" and fault.after_store


def test_rate_limit_is_per_client() -> None:
    with EmbeddedSandbox(SandboxConfig(rate_limit=2, clock=ManualClock())) as sb, httpx.Client(base_url=sb.base_url) as c:
        first = {"Authorization": f"Bearer {bearer_token(c)}"}
        second = {"Authorization": f"Bearer {bearer_token(c)}"}
        assert [c.get("/arm/clients/2218/documents", headers=first).status_code for _ in range(3)] == [200, 200, 429]
        # Another login has its own bucket, and the limit covers every family.
        assert c.get("/arm/clients/2218/documents", headers=second).status_code == 200
        assert c.get(f"/collection/v1/orgs/{ORG}/batches", headers=first).status_code == 429
        ada = {"X-API-Key": ada_token(c)}
        assert [c.get("/ada/creditor--payments", headers=ada).status_code for _ in range(3)] == [200, 200, 429]
        assert c.post("/ada/authenticates/api-code", json={"api_code": "sandbox"}).status_code == 200  # logins never limited
