"""Logins: the Norway token, the ADA api code, and refusals in each family's error shape."""

from __future__ import annotations


import httpx

from etl.sandbox import Credentials, EmbeddedSandbox, SandboxConfig

from .support import ManualClock, ada_token, bearer_token

FORM = {"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "sandbox"}


def test_token_has_the_documented_fields(client: httpx.Client) -> None:
    r = client.post("/auth/token", data=FORM)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "not_before", "expires_in", "expires_on", "resource"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["expires_on"] - body["not_before"] == 3600


def test_wrong_secret_and_grant_are_refused(client: httpx.Client) -> None:
    assert client.post("/auth/token", data={**FORM, "client_secret": "nope"}).status_code == 401
    r = client.post("/auth/token", data={**FORM, "grant_type": "password"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


def test_basic_auth_client_credentials(client: httpx.Client) -> None:
    r = client.post("/auth/token", data={"grant_type": "client_credentials"}, auth=("sandbox", "sandbox"))
    assert r.status_code == 200


def test_arm_and_collection_refuse_missing_or_bad_tokens_in_their_shapes(client: httpx.Client) -> None:
    r = client.get("/arm/clients/2218/documents")
    assert r.status_code == 401
    assert r.json()["status"] == "ERROR" and r.json()["result"] == "UNAUTHORIZED"
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/collection/v1/orgs/o1/batches", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert r.json()["summary"] == {"status": "FAILED"}
    assert r.json()["errors"][0]["message"]


def test_tokens_do_not_cross_families(client: httpx.Client) -> None:
    ada = ada_token(client)
    bearer = bearer_token(client)
    assert client.get("/arm/clients/1/documents", headers={"Authorization": f"Bearer {ada}"}).status_code == 401
    assert client.get("/ada/creditor--payments", headers={"X-API-Key": bearer}).status_code == 401


def test_token_expires() -> None:
    clock = ManualClock()  # the tokens are valid until the test moves this clock, however slow the machine
    with EmbeddedSandbox(SandboxConfig(token_lifetime_s=1, clock=clock)) as sb, httpx.Client(base_url=sb.base_url) as c:
        body = c.post("/auth/token", data=FORM).json()
        assert body["expires_in"] == 1
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        assert c.get("/arm/clients/2218/documents", headers=headers).status_code == 200
        ada_headers = {"X-API-Key": ada_token(c)}
        assert c.get("/ada/creditor--payments", headers=ada_headers).status_code == 200
        clock.advance(1)
        r = c.get("/arm/clients/2218/documents", headers=headers)
        assert r.status_code == 401
        assert "Expired" in r.json()["message"]
        assert c.get("/ada/creditor--payments", headers=ada_headers).status_code == 401
        # A new token works again.
        assert c.get("/arm/clients/2218/documents", headers={"Authorization": f"Bearer {bearer_token(c)}"}).status_code == 200


def test_ada_api_code_login(client: httpx.Client) -> None:
    r = client.post("/ada/authenticates/api-code", json={"api_code": "sandbox"})
    assert r.status_code == 200
    token = r.json()["access_token"]
    assert client.get("/ada/creditor--payments", headers={"X-API-Key": token}).status_code == 200
    bad = client.post("/ada/authenticates/api-code", json={"api_code": "wrong"})
    assert bad.status_code == 401
    assert bad.json() == {"_status": "ERR", "_error": {"code": 401, "message": "Invalid api code"}}


def test_ada_requires_x_api_key_in_eve_shape(client: httpx.Client) -> None:
    r = client.get("/ada/creditor--payments")
    assert r.status_code == 401
    assert r.json()["_status"] == "ERR"
    assert r.json()["_error"]["code"] == 401


def test_other_credentials_are_configurable() -> None:
    creds = Credentials(client_id="erp-7", client_secret="s3cret", ada_api_code="code-7")
    with EmbeddedSandbox(SandboxConfig(credentials=creds)) as sb, httpx.Client(base_url=sb.base_url) as c:
        assert c.post("/auth/token", data=FORM).status_code == 401  # the defaults no longer work
        assert c.post("/ada/authenticates/api-code", json={"api_code": "sandbox"}).status_code == 401
        form = {**FORM, "client_id": "erp-7", "client_secret": "s3cret"}
        assert c.post("/auth/token", data=form).status_code == 200
        assert c.post("/ada/authenticates/api-code", json={"api_code": "code-7"}).status_code == 200


def test_forbidden_owner_is_403_in_each_family_shape() -> None:
    org = "0f0e0d0c-0000-4000-8000-000000000403"
    config = SandboxConfig(forbidden=("4030", org, "creditor-403"))
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        arm = {"Authorization": f"Bearer {bearer_token(c)}"}
        ada = {"X-API-Key": ada_token(c)}
        r = c.get("/arm/clients/4030/documents", headers=arm)
        assert r.status_code == 403 and r.json()["status"] == "ERROR" and r.json()["result"] == "FORBIDDEN"
        assert c.get("/arm/clients/2218/documents", headers=arm).status_code == 200
        r = c.post(f"/collection/v1/orgs/{org}/payments", headers=arm, json={"organizationId": org, "payments": []})
        assert r.status_code == 403 and r.json()["summary"] == {"status": "FAILED"}
        r = c.post("/ada/creditor--payments", headers=ada, json=[{"creditor": "creditor-403"}])
        assert r.status_code == 403 and r.json() == {"_status": "ERR", "_error": {"code": 403, "message": "This login has no access to creditor-403"}}
