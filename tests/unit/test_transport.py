"""Transport, auth and rate limit pieces: backoff, Retry-After, token renewal, the signed api code, and retries
over real HTTP against the sandbox (faults forced to 100%)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from etl.amili.auth import renew_at, signed_api_code
from etl.amili.collection import CollectionClient
from etl.amili.delivery.autopostings import _autoposting_results
from etl.amili.ratelimit import TokenBucket
from etl.amili.transport import AnswerLostError, Transport, _retry_after, full_jitter
from etl.config import HttpConfig
from etl.errors import AmiliUnavailableError
from etl.sandbox import EmbeddedSandbox, SandboxConfig


def test_full_jitter_stays_under_the_exponential_cap_and_uses_the_whole_range() -> None:
    random.seed(1)
    for attempt in range(1, 12):
        bound = min(5.0, 0.05 * 2 ** (attempt - 1))
        waits = [full_jitter(attempt) for _ in range(400)]
        assert all(0 <= w <= bound for w in waits)
        assert max(waits) > 0.9 * bound and min(waits) < 0.1 * bound  # full jitter: from 0 to the cap


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    now = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.timezone.utc)  # a fixed "now": no race with the clock
    assert _retry_after(email.utils.format_datetime(now + dt.timedelta(seconds=30), usegmt=True), now) == 30.0
    assert _retry_after(email.utils.format_datetime(now - dt.timedelta(seconds=30), usegmt=True), now) == 0.0
    # By default counted from the current time: never more than the 30 s ahead it was written, however slow.
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 0 <= (_retry_after(later) or 0) <= 30


def test_tokens_are_renewed_before_expires_on() -> None:
    assert renew_at(1000.0, 3600, 1000.0 + 3600) == 1000.0 + 3600 - 60
    assert renew_at(1000.0, None, 1000.0 + 10) == pytest.approx(1000.0 + 8)  # short-lived: a fifth of its life early
    assert renew_at(1000.0, 3600, 1000.0 + 100) == pytest.approx(1000.0 + 80)  # the earlier of the two wins


def test_token_bucket_spaces_requests_at_its_rate() -> None:
    async def take(bucket: TokenBucket, n: int) -> float:
        t = time.monotonic()
        await asyncio.gather(*(bucket.acquire() for _ in range(n)))
        return time.monotonic() - t

    assert asyncio.run(take(TokenBucket(100.0), 21)) >= 0.19  # 20 waits of 0.01 s: a lower bound the sleeps guarantee
    unlimited = TokenBucket(0.0)  # 0: unlimited; every acquire returns at once, without ever suspending to wait
    for _ in range(1000):
        with pytest.raises(StopIteration):
            unlimited.acquire().send(None)


@pytest.mark.parametrize(("make", "alg"), [
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
])
def test_signed_api_code_is_a_jwt_with_the_code_and_ten_minutes(make, alg) -> None:
    key = make()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    token = signed_api_code("the-code", pem, 1_800_000_000.0)
    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = jwt.decode(token, key.public_key(), algorithms=[alg], options={"verify_exp": False})
    assert claims == {"api_code": "the-code", "exp": 1_800_000_000 + 600}


def _stats(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/_sandbox/stats", timeout=60).json()["requests"]


def test_retries_stop_at_max_attempts_and_a_lost_answer_is_never_repeated() -> None:
    http = HttpConfig(timeout_s=60, max_attempts=3, max_retry_time_s=600)  # attempts, not time, stop it

    async def go(base: str, idempotent: bool) -> None:
        t = Transport(http)
        try:
            await t.request("GET", f"{base}/arm/clients/1/documents", idempotent=idempotent)
        finally:
            await t.aclose()

    with EmbeddedSandbox(SandboxConfig(faults="500=1.0", post_store_500_share=0.0)) as sb:
        with pytest.raises(AmiliUnavailableError) as err:
            asyncio.run(go(sb.base_url, True))
        assert not isinstance(err.value, AnswerLostError)
        assert _stats(sb.base_url)["GET /arm/clients/{clientno}/documents"] == {"500": 3}
        with pytest.raises(AnswerLostError):
            asyncio.run(go(sb.base_url, False))  # a 500 may have been applied: not repeated
        assert _stats(sb.base_url)["GET /arm/clients/{clientno}/documents"] == {"500": 4}


def test_a_503_is_retried_after_the_servers_retry_after() -> None:
    async def go(base: str) -> float:
        t = Transport(HttpConfig(timeout_s=60, max_attempts=2, max_retry_time_s=600))  # attempts, not time, stop it
        started = time.monotonic()
        try:
            with pytest.raises(AmiliUnavailableError):
                await t.request("GET", f"{base}/arm/clients/1/documents")
            return time.monotonic() - started
        finally:
            await t.aclose()

    with EmbeddedSandbox(SandboxConfig(faults="503=1.0")) as sb:
        took = asyncio.run(go(sb.base_url))
        assert _stats(sb.base_url)["GET /arm/clients/{clientno}/documents"] == {"503": 2}
        assert took >= 0.95  # the sandbox's 503 says Retry-After: 1, far above the jittered backoff (<= 0.05 s)


def test_autoposting_results_isolate_culprits_or_bisect() -> None:
    items = [{"resultType": "BATCH-REJECTED"}, {"resultType": "ERROR", "message": "bad"}, {"resultType": "BATCH-REJECTED"}]
    done, again = _autoposting_results(400, {"autoPostings": items}, ["a", "b", "c"])
    assert [(k, o.state) for k, o in done] == [("b", "rejected")] and "bad" in done[0][1].message
    assert again == [["a", "c"]]
    done, again = _autoposting_results(400, {"message": "Batch rejected"}, ["a", "b", "c", "d"])
    assert done == [] and again == [["a", "b"], ["c", "d"]]  # no per-posting results: bisect
    done, again = _autoposting_results(400, {"message": "no"}, ["a"])
    assert [o.state for _, o in done] == ["rejected"] and again == []
    done, again = _autoposting_results(200, {"result": "CREATED"}, ["a", "b"])
    assert [o.state for _, o in done] == ["confirmed", "confirmed"]


def test_collection_422_errors_name_the_refused_payments() -> None:
    body = {"errors": [{"field": "payments[3].amount", "message": "amount must be positive"},
                       {"field": "payments[3].date", "message": "date is required"},
                       {"field": "organizationId", "message": "x"}]}
    assert CollectionClient.refused_indexes(body) == {3: "payments[3].amount: amount must be positive; "
                                                         "payments[3].date: date is required"}


def test_a_401_renews_the_token_once_and_sends_again(tmp_path) -> None:
    from etl.amili.arm import ArmClient
    from etl.amili.auth import NorwayAuth
    from tests.e2e import delivery_support as ds

    async def go(base: str) -> int:
        config = ds.load(ds.write_config(tmp_path, base, apis=("arm",)))
        t = Transport(config.http)
        auth = NorwayAuth(t, config.creditors[0])
        auth._token, auth._renew_at = "revoked-or-expired", time.time() + 3600  # Amili no longer accepts it
        try:
            found = await ArmClient(t, auth, f"{base}/arm", ds.ARM_CLIENT).find_document("nope")
            assert found is None and auth.fetches == 1
            return t.stats["GET 401"]
        finally:
            await t.aclose()

    with EmbeddedSandbox(SandboxConfig()) as sb:
        assert asyncio.run(go(sb.base_url)) == 1
        assert _stats(sb.base_url)["GET /arm/clients/{clientno}/documents"] == {"401": 1, "200": 1}
