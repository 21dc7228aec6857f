"""Every request example of Amili's pages, sent as written (host and auth aside): the documented status and shape."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from .docs_examples import DocExample, load_examples, same_shape, sandbox_path
from .support import ADA_EXAMPLE_SEED, ARM_EXAMPLE_SEED, ada_login, arm_login, schema_problems, seed

EXAMPLES = load_examples()
# Values the sandbox assigns itself (numbers, ids, times); every other documented value must come back equal.
_ASSIGNED = {"accountNo", "referenceNo", "documentBundleId", "batchId", "batchUrl", "_id", "_etag", "_created", "_updated"}
_TEMPLATES = {
    "arm-documents.txt": "/arm/clients/{clientno}/documents",
    "arm-paymentreservations.txt": "/arm/clients/{clientno}/paymentreservations",
    "arm-autopostings.txt": "/arm/clients/{clientno}/autopostings/{autopostingmethod}",
    "collection-payments.txt": "/collection/v1/orgs/{orgId}/payments",
    "ada-creditor-payments.txt": "/ada/creditor--payments",
}


def test_every_page_has_an_example() -> None:
    assert sorted(e.page for e in EXAMPLES) == sorted(_TEMPLATES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.page for e in EXAMPLES])
def test_docs_example_gets_the_documented_answer(client: httpx.Client, openapi: dict[str, Any], example: DocExample) -> None:
    if example.family == "ada":
        ada_login(client)
        seed(client, ada_cases=[ADA_EXAMPLE_SEED])
    else:
        arm_login(client)
    if example.page in ("arm-paymentreservations.txt", "arm-autopostings.txt"):
        seed(client, arm_documents=[ARM_EXAMPLE_SEED])  # the document the example's arItemId names
    r = client.request(
        example.method, sandbox_path(example, 2218, "payment"), content=example.body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == example.status, r.text
    answer = r.json()
    assert same_shape(example.response, answer) == []
    assert schema_problems(openapi, example.method, _TEMPLATES[example.page], r.status_code, answer) == []
    if isinstance(example.response, dict):
        for key, value in example.response.items():
            if key not in _ASSIGNED and not isinstance(value, (dict, list)) or key == "autoPostings":
                assert answer[key] == value, key
    if example.family == "ada":
        # Eve's answer to a POST: exactly these fields, ids and stamps in Eve's formats.
        assert set(answer) == set(example.response)
        assert re.fullmatch(r"[0-9a-f]{40}", answer["_etag"]) and re.fullmatch(r"[0-9a-f]{24}", answer["_id"])
        assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", answer["_created"])
    if example.family == "collection":
        assert answer["data"]["batchUrl"] == f"{client.base_url}/collection/v1/batches/{answer['data']['batchId']}"
