"""Logins bound to tenants: cross-tenant paths and bodies are 403 in each family's shape, lists show only the
login's own items, and a second configured login can neither see nor touch the default login's data (nor
the other way round)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from etl.sandbox import Credentials, EmbeddedSandbox, Login, SandboxConfig

from .keys import new_ec_key, public_pem
from .support import (
    ADA_EXAMPLE,
    ADA_EXAMPLE_SEED,
    ARM_EXAMPLE_SEED,
    AUTOPOSTING_EXAMPLE,
    BATCH_DELAY_S,
    DOCUMENT_EXAMPLE,
    ORG,
    RESERVATION_EXAMPLE,
    fresh,
)

# The second login's tenants: one of each kind.
CLIENT_B = 3001
ORG_B = "0b0b0b0b-0000-4000-8000-00000000000b"
CREDITOR_B = "creditor-b"
SECRET_B, CODE_B = "b-secret", "b-code"
B = Login(client_id="erp-b", client_secret=SECRET_B, ada_api_code=CODE_B, arm_clients=(CLIENT_B,),
          collection_orgs=(ORG_B,), ada_creditors=(CREDITOR_B,))

SEED: dict[str, Any] = {
    "arm_documents": [ARM_EXAMPLE_SEED, {**ARM_EXAMPLE_SEED, "clientNo": CLIENT_B, "accountNo": 500002, "referenceNo": 35078}],
    "collection_invoices": [
        {"organizationId": org, "invoiceId": "INV-1", "invoiceNumber": "1001", "amount": 500, "currency": "NOK"} for org in (ORG, ORG_B)
    ],
    "ada_cases": [ADA_EXAMPLE_SEED, {**ADA_EXAMPLE_SEED, "case": "case-b", "creditor": CREDITOR_B}],
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[EmbeddedSandbox]:
    """One sandbox with the default login and login B."""
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=BATCH_DELAY_S, logins=(B,))) as sb:
        yield sb


@pytest.fixture
def c(sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """A plain client on the reset and seeded sandbox."""
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as client:
        client.post("/_sandbox/reset").raise_for_status()
        client.post("/_sandbox/seed", json=SEED).raise_for_status()
        yield client


def bearer(c: httpx.Client, client_id: str = "sandbox", secret: str = "sandbox") -> dict[str, str]:
    """Authorization header of a Norway login."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return {"Authorization": f"Bearer {c.post('/auth/token', data=form).raise_for_status().json()['access_token']}"}


def ada_key(c: httpx.Client, code: str = "sandbox") -> dict[str, str]:
    """X-API-Key header of an ADA api-code login."""
    return {"X-API-Key": c.post("/ada/authenticates/api-code", json={"api_code": code}).raise_for_status().json()["access_token"]}


def arm_forbidden(r: httpx.Response) -> bool:
    return r.status_code == 403 and r.json()["status"] == "ERROR" and r.json()["result"] == "FORBIDDEN"


def collection_forbidden(r: httpx.Response) -> bool:
    return r.status_code == 403 and r.json()["summary"] == {"status": "FAILED"} and r.json()["errors"][0]["message"]


def ada_forbidden(r: httpx.Response) -> bool:
    return r.status_code == 403 and r.json()["_status"] == "ERR" and r.json()["_error"]["code"] == 403


def _arm_requests(clientno: int) -> list[tuple[str, str, Any]]:
    base = f"/arm/clients/{clientno}"
    document = fresh(DOCUMENT_EXAMPLE)
    document["document"]["documentNo"] = "NEW-1"  # the seed holds the docs' own documentNo
    reservation, autoposting = fresh(RESERVATION_EXAMPLE), fresh(AUTOPOSTING_EXAMPLE)
    # The docs' arItemId 2218-500002-35078-0, on this client.
    reservation["paymentreservation"]["arItemId"] = autoposting["postings"][0]["arItemId"] = f"{clientno}-500002-35078-0"
    return [
        ("POST", f"{base}/documents", document),
        ("GET", f"{base}/documents", None),
        ("POST", f"{base}/documents/batches", {"metadata": {}, "documents": [{**document["document"], "documentNo": "NEW-2"}]}),
        ("GET", f"{base}/aritems", None),
        ("GET", f"{base}/customers", None),
        ("POST", f"{base}/paymentreservations", reservation),
        ("POST", f"{base}/autopostings/payment", autoposting),
    ]


@pytest.mark.parametrize("who", ["default", "b"])
def test_arm_other_logins_client_is_403_everywhere(c: httpx.Client, who: str) -> None:
    mine, theirs = (2218, CLIENT_B) if who == "default" else (CLIENT_B, 2218)
    auth = bearer(c) if who == "default" else bearer(c, "erp-b", SECRET_B)
    for method, path, body in _arm_requests(theirs):
        r = c.request(method, path, json=body, headers=auth)
        assert arm_forbidden(r), (method, path, r.status_code, r.text)
    # The same requests on its own client are served; the other's data stayed untouched.
    for method, path, body in _arm_requests(mine):
        r = c.request(method, path, json=body, headers=auth)
        assert r.status_code in (200, 201, 202), (method, path, r.text)
    items = c.get("/_sandbox/ledger").json()["items"]
    assert {i["api"] for i in items} >= {"arm.documents", "arm.paymentreservations", "arm.autopostings"}
    assert {i["scope"] for i in items} == {str(mine)}


def test_arm_batch_of_another_client_is_403(c: httpx.Client) -> None:
    b = bearer(c, "erp-b", SECRET_B)
    batch = {"metadata": {}, "documents": [fresh(DOCUMENT_EXAMPLE)["document"]]}
    uuid = c.post(f"/arm/clients/{CLIENT_B}/documents/batches", json=batch, headers=b).json()["batchUuid"]
    assert arm_forbidden(c.get(f"/arm/clients/{CLIENT_B}/batches/{uuid}", headers=bearer(c)))
    assert c.get(f"/arm/clients/{CLIENT_B}/batches/{uuid}", headers=b).status_code in (200, 202)


def test_a_configured_login_owns_exactly_its_tenants_the_default_every_unclaimed_one(c: httpx.Client) -> None:
    assert arm_forbidden(c.get("/arm/clients/9999/documents", headers=bearer(c, "erp-b", SECRET_B)))
    assert c.get("/arm/clients/9999/documents", headers=bearer(c)).status_code == 200
    r = c.get("/collection/v1/orgs/some-new-org/batches", headers=bearer(c, "erp-b", SECRET_B))
    assert collection_forbidden(r)
    assert c.get("/collection/v1/orgs/some-new-org/batches", headers=bearer(c)).status_code == 200


def _payments(org: str, key: str = "P-1") -> dict[str, Any]:
    return {
        "organizationId": org,
        "payments": [{"invoiceId": "INV-1", "uniqueSourcePaymentId": key, "amount": 100, "currency": "NOK", "date": "2025-05-01T10:00:00Z"}],
    }


def test_collection_other_logins_org_is_403_by_path_and_body(c: httpx.Client) -> None:
    default, b = bearer(c), bearer(c, "erp-b", SECRET_B)
    posted = c.post(f"/collection/v1/orgs/{ORG_B}/payments", json=_payments(ORG_B), headers=b)
    assert posted.status_code == 202, posted.text
    batch_id = posted.json()["data"]["batchId"]
    time.sleep(BATCH_DELAY_S + 0.05)
    settlements = c.get(f"/collection/v1/orgs/{ORG_B}/settlements", headers=b).json()["data"]
    assert settlements, "B's payment settled"
    for path in (
        f"/collection/v1/orgs/{ORG_B}/batches",
        f"/collection/v1/orgs/{ORG_B}/batches/{batch_id}",
        f"/collection/v1/batches/{batch_id}",  # legacy: the path names no org, the batch's org is checked
        f"/collection/v1/orgs/{ORG_B}/settlements",
        f"/collection/v1/orgs/{ORG_B}/settlements/{settlements[0]['settlementId']}",
    ):
        assert collection_forbidden(c.get(path, headers=default)), path
        assert c.get(path, headers=b).status_code == 200, path
    assert collection_forbidden(c.post(f"/collection/v1/orgs/{ORG_B}/payments", json=_payments(ORG_B, "P-2"), headers=default))
    # Its own org in the path, another login's in the body: 403, not the usual 422 for a mismatch.
    assert collection_forbidden(c.post(f"/collection/v1/orgs/{ORG}/payments", json=_payments(ORG_B, "P-3"), headers=default))
    assert collection_forbidden(c.post(f"/collection/v1/orgs/{ORG_B}/payments", json=_payments(ORG, "P-4"), headers=b))
    # The default login's own batch is as closed to B.
    own_id = c.post(f"/collection/v1/orgs/{ORG}/payments", json=_payments(ORG, "P-5"), headers=default).json()["data"]["batchId"]
    assert collection_forbidden(c.get(f"/collection/v1/batches/{own_id}", headers=b))
    assert c.get(f"/collection/v1/batches/{own_id}", headers=default).status_code == 200
    time.sleep(BATCH_DELAY_S + 0.05)
    keys = {(i["scope"], i["key"]) for i in c.get("/_sandbox/ledger").json()["items"]}
    assert keys == {(ORG_B, "P-1"), (ORG, "P-5")}


def _ada_payment(creditor: str, case: str, reference: str) -> dict[str, Any]:
    doc = fresh(ADA_EXAMPLE)
    doc.pop("account")
    return {**doc, "creditor": creditor, "case": case, "creditor_payment_reference": reference}


def test_ada_other_logins_creditor_is_403_and_invisible(c: httpx.Client) -> None:
    default, b = ada_key(c), ada_key(c, CODE_B)
    creditor_a = ADA_EXAMPLE_SEED["creditor"]
    mine = c.post("/ada/creditor--payments", json=_ada_payment(creditor_a, ADA_EXAMPLE_SEED["case"], "A-1"), headers=default)
    theirs = c.post("/ada/creditor--payments", json=_ada_payment(CREDITOR_B, "case-b", "B-1"), headers=b)
    assert mine.status_code == 201 and theirs.status_code == 201, (mine.text, theirs.text)
    # Posting for the other's creditor, single or as one item of a bulk: 403, nothing stored.
    assert ada_forbidden(c.post("/ada/creditor--payments", json=_ada_payment(CREDITOR_B, "case-b", "B-2"), headers=default))
    bulk = [_ada_payment(creditor_a, ADA_EXAMPLE_SEED["case"], "A-2"), _ada_payment(CREDITOR_B, "case-b", "B-3")]
    assert ada_forbidden(c.post("/ada/creditor--payments", json=bulk, headers=default))
    assert ada_forbidden(c.post("/ada/creditor--payments", json=[_ada_payment(creditor_a, ADA_EXAMPLE_SEED["case"], "A-3")], headers=b))
    # Lists and GET by id show each login its own creditors' items only.
    for headers, own_id, other_id, creditor in ((default, mine, theirs, creditor_a), (b, theirs, mine, CREDITOR_B)):
        for resource in ("creditor--payments", "finance--payout-specifications"):
            listed = c.get(f"/ada/{resource}", headers=headers).json()
            assert [i["creditor"] for i in listed["_items"]] == [creditor] and listed["_meta"]["total"] == 1, resource
        where = c.get("/ada/creditor--payments", params={"where": f'{{"creditor": "{CREDITOR_B}"}}'}, headers=headers).json()
        assert len(where["_items"]) == (1 if creditor == CREDITOR_B else 0)
        assert c.get(f"/ada/creditor--payments/{own_id.json()['_id']}", headers=headers).status_code == 200
        r = c.get(f"/ada/creditor--payments/{other_id.json()['_id']}", headers=headers)
        assert r.status_code == 404 and r.json()["_status"] == "ERR"
    assert {i["key"] for i in c.get("/_sandbox/ledger").json()["items"]} == {"A-1", "B-1"}


def test_tokens_do_not_cross_logins_families(c: httpx.Client) -> None:
    # B's ADA token is bound to B's creditors only, whatever the Norway side of the login owns.
    b = ada_key(c, CODE_B)
    assert ada_forbidden(c.post("/ada/creditor--payments", json=_ada_payment(ADA_EXAMPLE_SEED["creditor"], "x", "R"), headers=b))
    assert c.get(f"/arm/clients/{CLIENT_B}/documents", headers={"Authorization": f"Bearer {b['X-API-Key']}"}).status_code == 401


def test_the_default_login_owns_the_docs_examples_and_its_seed(c: httpx.Client) -> None:
    default, ada = bearer(c), ada_key(c)
    assert c.post("/arm/clients/2218/paymentreservations", json=fresh(RESERVATION_EXAMPLE), headers=default).status_code == 200
    assert c.get(f"/collection/v1/orgs/{ORG}/batches", headers=default).status_code == 200
    assert c.post("/ada/creditor--payments", json=fresh(ADA_EXAMPLE), headers=ada).status_code == 201


def test_forbid_still_refuses_every_login() -> None:
    config = SandboxConfig(logins=(B,), forbidden=(str(CLIENT_B), "4030"))
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        assert arm_forbidden(c.get(f"/arm/clients/{CLIENT_B}/documents", headers=bearer(c, "erp-b", SECRET_B)))
        assert arm_forbidden(c.get("/arm/clients/4030/documents", headers=bearer(c)))


@pytest.mark.parametrize(
    ("logins", "message"),
    [
        ((B, Login(client_id="erp-c", client_secret="c", arm_clients=(CLIENT_B,))), "belong to another login"),
        ((Login(client_id="sandbox", client_secret="x"),), "client_id used by another login"),
        ((B, Login(client_id="erp-c", client_secret="c", ada_api_code=CODE_B)), "api code used by another login"),
        ((Login(client_id="erp-c", client_secret="c", ada_public_key="not a key"),), "not a PEM public key"),
    ],
)
def test_logins_that_could_cross_or_be_confused_are_refused(logins: tuple[Login, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxConfig(logins=logins)


def test_secrets_are_not_in_reprs() -> None:
    key = public_pem(new_ec_key())
    config = SandboxConfig(credentials=Credentials("id", "cred-secret-1", "code-secret-2", key), logins=(B,), allow_remote=True,
                           admin_token="admin-secret-3")
    text = repr(config)
    for secret in ("cred-secret-1", "code-secret-2", "admin-secret-3", SECRET_B, CODE_B, "BEGIN PUBLIC KEY"):
        assert secret not in text


def test_non_loopback_hosts_need_allow_remote_and_an_admin_token() -> None:
    with pytest.raises(ValueError, match="allow-remote"):
        EmbeddedSandbox(host="0.0.0.0").start()
    with pytest.raises(ValueError, match="admin token"):
        SandboxConfig(allow_remote=True)


def test_the_admin_token_guards_sandbox_endpoints_in_python_too() -> None:
    config = SandboxConfig(allow_remote=True, admin_token="adm")
    with EmbeddedSandbox(config) as sb, httpx.Client(base_url=sb.base_url) as c:
        r = c.get("/_sandbox/ledger")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert c.get("/_sandbox/ledger", headers={"Authorization": "Bearer adm"}).status_code == 200
        assert c.get("/arm/clients/2218/documents", headers=bearer(c)).status_code == 200
