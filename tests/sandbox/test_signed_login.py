"""The signed ADA login (GET /ada/authenticates/api-code, a JWT in X-API-Key) verified against the login's key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from etl.amili.auth import signed_api_code
from etl.sandbox import Credentials, EmbeddedSandbox, Login, SandboxConfig

from .keys import new_ec_key, new_rsa_key, private_pem, public_pem, signed, unsigned

DEFAULT_KEY = new_ec_key()
B_KEY = new_ec_key(ec.SECP384R1())
RSA_KEY = new_rsa_key()
LOGINS = (
    Login(client_id="erp-b", client_secret="b", ada_api_code="b-code", ada_public_key=public_pem(B_KEY), ada_creditors=("creditor-b",)),
    Login(client_id="erp-r", client_secret="r", ada_api_code="r-code", ada_public_key=public_pem(RSA_KEY), ada_creditors=("creditor-r",)),
    Login(client_id="erp-n", client_secret="n", ada_api_code="n-code", ada_creditors=("creditor-n",)),  # no key registered
)


@pytest.fixture(scope="module")
def c() -> Iterator[httpx.Client]:
    """A client on a sandbox where the default login and two others registered public keys."""
    config = SandboxConfig(credentials=Credentials(ada_public_key=public_pem(DEFAULT_KEY)), logins=LOGINS)
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url, timeout=5) as client:
        yield client


def login(c: httpx.Client, token: str) -> httpx.Response:
    return c.get("/ada/authenticates/api-code", headers={"X-API-Key": token})


def refused(r: httpx.Response) -> str:
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["_status"] == "ERR" and body["_error"]["code"] == 401
    return str(body["_error"]["message"])


@pytest.mark.parametrize(
    ("code", "key", "alg"),
    [("sandbox", DEFAULT_KEY, "ES256"), ("b-code", B_KEY, "ES384"), ("r-code", RSA_KEY, "RS256"), ("r-code", RSA_KEY, "RS512")],
)
def test_a_jwt_signed_with_the_registered_key_logs_in(c: httpx.Client, code: str, key: Any, alg: str) -> None:
    r = login(c, signed(code, key, alg))
    assert r.status_code == 200, r.text
    assert c.get("/ada/creditor--payments", headers={"X-API-Key": r.json()["access_token"]}).status_code == 200


def test_the_token_is_bound_to_the_signing_logins_creditors(c: httpx.Client) -> None:
    token = login(c, signed("b-code", B_KEY, "ES384")).json()["access_token"]
    r = c.post("/ada/creditor--payments", json=[{"creditor": "creditor-r"}], headers={"X-API-Key": token})
    assert r.status_code == 403 and r.json()["_error"]["code"] == 403


def test_amili_etls_own_signed_api_code_is_accepted(c: httpx.Client) -> None:
    import time

    assert login(c, signed_api_code("sandbox", private_pem(DEFAULT_KEY), time.time())).status_code == 200
    assert login(c, signed_api_code("r-code", private_pem(RSA_KEY), time.time())).status_code == 200


def test_alg_none_is_refused(c: httpx.Client) -> None:
    import time

    assert "algorithm 'none'" in refused(login(c, unsigned({"api_code": "sandbox", "exp": int(time.time()) + 600})))


def test_hs256_is_refused_even_keyed_with_the_public_key(c: httpx.Client) -> None:
    # The classic confusion attack: HMAC keyed with the (public) PEM text.
    import base64
    import hashlib
    import hmac
    import time

    import orjson

    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=")

    head = part({"alg": "HS256", "typ": "JWT"}) + b"." + part({"api_code": "sandbox", "exp": int(time.time()) + 600})
    sig = base64.urlsafe_b64encode(hmac.new(public_pem(DEFAULT_KEY).encode(), head, hashlib.sha256).digest()).rstrip(b"=")
    assert "algorithm 'HS256'" in refused(login(c, (head + b"." + sig).decode()))
    assert "algorithm 'HS256'" in refused(login(c, jwt.encode({"api_code": "sandbox", "exp": int(time.time()) + 600}, "k" * 32, "HS256")))


def test_a_wrong_key_is_refused(c: httpx.Client) -> None:
    assert "signature" in refused(login(c, signed("sandbox", new_ec_key())))
    assert "signature" in refused(login(c, signed("b-code", DEFAULT_KEY)))  # another login's key


def test_exp_missing_expired_or_too_far_ahead_is_refused(c: httpx.Client) -> None:
    assert "no exp" in refused(login(c, signed("sandbox", DEFAULT_KEY, exp_in=None)))
    assert "expired" in refused(login(c, signed("sandbox", DEFAULT_KEY, exp_in=-120)))
    assert "ahead" in refused(login(c, signed("sandbox", DEFAULT_KEY, exp_in=3600)))
    assert "ahead" in refused(login(c, signed("sandbox", DEFAULT_KEY, exp_in=700)))
    # Within the clock leeway of 30 s either way: accepted.
    assert login(c, signed("sandbox", DEFAULT_KEY, exp_in=620)).status_code == 200
    assert login(c, signed("sandbox", DEFAULT_KEY, exp_in=-10)).status_code == 200


def test_a_login_without_a_registered_key_cannot_sign_in(c: httpx.Client) -> None:
    assert "no registered public key" in refused(login(c, signed("n-code", new_ec_key())))
    assert c.post("/ada/authenticates/api-code", json={"api_code": "n-code"}).status_code == 200  # the api code still works


def test_garbage_and_unknown_codes_are_refused(c: httpx.Client) -> None:
    refused(login(c, "not-a-jwt"))
    refused(login(c, ""))
    refused(login(c, signed("nobody", DEFAULT_KEY)))


def test_the_default_login_without_a_key_cannot_use_the_signed_login() -> None:
    with EmbeddedSandbox() as sb, httpx.Client(base_url=sb.base_url) as c:
        assert "no registered public key" in refused(login(c, signed("sandbox", new_ec_key())))
