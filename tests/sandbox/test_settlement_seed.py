"""The `collection_settlements` seed section: plant, change and remove Collection settlements (month-end tests)."""

from __future__ import annotations

import httpx

from .support import ORG, seed
from .test_collection import INVOICES, finished, payment, submit

URL = f"/collection/v1/orgs/{ORG}/settlements"


def _all(c: httpx.Client) -> dict[str, dict]:
    return {s["settlementId"]: s for s in c.get(URL, params={"fromDate": "2000-01-01", "pageSize": 100}).json()["data"]}


def test_plant_change_and_remove_settlements(arm: httpx.Client) -> None:
    seed(arm, collection_invoices=INVOICES)
    finished(arm, submit(arm, payment("P1"), payment("P2")).json()["data"]["batchId"])
    made = {s["uniqueSourcePaymentId"]: s for s in _all(arm).values()}
    stored = seed(arm, collection_settlements=[
        {"organizationId": ORG, "settlementId": made["P1"]["settlementId"], "amount": "60.00"},
        {"organizationId": ORG, "settlementId": made["P2"]["settlementId"], "remove": True},
        {"organizationId": ORG, "settlementId": "S-X", "settlementDate": "2026-11-20", "amount": 12.5, "currency": "NOK",
         "uniqueSourcePaymentId": "NOT-OURS", "batchId": "B-1"},
        {"organizationId": ORG, "settlementDate": "2026-11-21", "amount": "7.00", "currency": "NOK"},
    ])["collection_settlements"]
    after = _all(arm)
    assert {**made["P1"], "amount": 60} == after[made["P1"]["settlementId"]]  # only the amount changed
    assert made["P2"]["settlementId"] not in after and stored[1]["removed"] is True
    assert after["S-X"] == {"settlementId": "S-X", "settlementDate": "2026-11-20", "invoiceId": None, "invoiceNumber": None,
                            "caseId": None, "caseNumber": None, "collectionType": "REMINDER", "customerReference": None,
                            "uniqueSourcePaymentId": "NOT-OURS", "batchId": "B-1", "currency": "NOK", "exchangeRate": 1,
                            "amount": 12.5}
    direct = after[stored[3]["settlementId"]]
    assert direct["uniqueSourcePaymentId"] is None and direct["amount"] == 7
    assert not any(i["key"] == "NOT-OURS" for i in arm.get("/_sandbox/ledger").json()["items"])


def test_bad_settlement_seeds_are_400(client: httpx.Client) -> None:
    for item, words in (({"settlementDate": "2026-11-20", "amount": 1, "currency": "NOK"}, "needs organizationId"),
                        ({"organizationId": ORG, "amount": 1, "currency": "NOK"}, "needs settlementDate"),
                        ({"organizationId": ORG, "settlementDate": "20.11.2026", "amount": 1, "currency": "NOK"}, "YYYY-MM-DD"),
                        ({"organizationId": ORG, "settlementDate": "2026-11-20", "amount": "x", "currency": "NOK"}, "amount"),
                        ({"organizationId": ORG, "settlementDate": "2026-11-20", "amount": 1, "currency": "kr"}, "ISO 4217"),
                        ({"organizationId": ORG, "settlementId": "nope", "remove": True}, "not found")):
        r = client.post("/_sandbox/seed", json={"collection_settlements": [item]})
        assert r.status_code == 400 and words in r.text, (item, r.text)
