"""Malformed bodies to every POST endpoint of /openapi.json: always a documented 4xx in the family's error shape."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import (
    ADA_EXAMPLE,
    ADA_EXAMPLE_SEED,
    ARM_EXAMPLE_SEED,
    AUTOPOSTING_EXAMPLE,
    DOCUMENT_EXAMPLE,
    ORG,
    RESERVATION_EXAMPLE,
    ada_token,
    bearer_token,
    schema_problems,
    seed,
)

PATH_VALUES = {"clientno": "2218", "autopostingmethod": "payment", "orgId": ORG}
FORM = "application/x-www-form-urlencoded"

# A valid body per POST template; the mutation test breaks exactly one required field of it.
VALID: dict[str, Any] = {
    "/auth/token": {"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "sandbox"},
    "/ada/authenticates/api-code": {"api_code": "sandbox"},
    "/arm/clients/{clientno}/documents": DOCUMENT_EXAMPLE,
    "/arm/clients/{clientno}/documents/batches": {"metadata": {}, "documents": [DOCUMENT_EXAMPLE["document"]]},
    "/arm/clients/{clientno}/paymentreservations": RESERVATION_EXAMPLE,
    "/arm/clients/{clientno}/autopostings/{autopostingmethod}": AUTOPOSTING_EXAMPLE,
    "/collection/v1/orgs/{orgId}/payments": {
        "organizationId": ORG,
        "payments": [{"invoiceId": "inv-1", "uniqueSourcePaymentId": "U1", "amount": 10, "currency": "NOK", "date": "2025-01-01T00:00:00Z"}],
    },
    "/ada/creditor--payments": ADA_EXAMPLE,
}

_JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)
)
JSON = st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _resolve(schema: dict[str, Any], openapi: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema or "oneOf" in schema:
        if "oneOf" in schema:
            schema = schema["oneOf"][0]  # the single-object form of an endpoint that also takes a list
        else:
            schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _allowed(schema: dict[str, Any]) -> set[str]:
    if "const" in schema:
        return {_json_type(schema["const"])}
    kinds = schema.get("type", [])
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    # An integer is a number in JSON Schema; a whole float is an integer to most parsers.
    return kinds | ({"integer"} if "number" in kinds else set()) | ({"number"} if "integer" in kinds else set())


def required_fields(schema: dict[str, Any], openapi: dict[str, Any], at: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(path, schema) of every required field, following required objects and the first item of required lists."""
    schema = _resolve(schema, openapi)
    found = []
    for name in schema.get("required", []):
        sub = _resolve(schema["properties"][name], openapi)
        found.append(((*at, name), sub))
        if sub.get("type") == "object":
            found += required_fields(sub, openapi, (*at, name))
        elif sub.get("type") == "array":
            found += required_fields(sub["items"], openapi, (*at, name, 0))
    return found


def post_templates(openapi: dict[str, Any]) -> list[str]:
    """Every POST endpoint of the API families and logins (not /_sandbox)."""
    return sorted(t for t, ops in openapi["paths"].items() if "post" in ops and not t.startswith("/_sandbox"))


def _family_error(openapi: dict[str, Any], template: str, r: httpx.Response) -> list[str]:
    assert 400 <= r.status_code < 500, f"{template}: {r.status_code} {r.text[:300]}"
    return schema_problems(openapi, "POST", template, r.status_code, r.json())


@pytest.fixture
def logged_in(client: httpx.Client) -> httpx.Client:
    """The shared client with both logins, and the things the valid bodies refer to seeded."""
    client.headers["Authorization"] = f"Bearer {bearer_token(client)}"
    client.headers["X-API-Key"] = ada_token(client)
    seed(
        client,
        arm_documents=[ARM_EXAMPLE_SEED],
        ada_cases=[ADA_EXAMPLE_SEED],
        collection_invoices=[{"organizationId": ORG, "invoiceId": "inv-1", "invoiceNumber": "1", "amount": 100, "currency": "NOK"}],
    )
    return client


def test_every_post_endpoint_has_a_valid_body_here(openapi: dict[str, Any]) -> None:
    assert post_templates(openapi) == sorted(VALID)


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_FUZZ
@given(data=st.data())
def test_garbage_bodies_get_a_4xx_in_the_family_shape(logged_in: httpx.Client, openapi: dict[str, Any], data: st.DataObject) -> None:
    template = data.draw(st.sampled_from(post_templates(openapi)))
    body = data.draw(st.one_of(st.binary(max_size=64), JSON.map(orjson.dumps), st.sampled_from([b"", b"{", b"[]", b"null", b'"x"'])))
    content_type = data.draw(st.sampled_from(["application/json", FORM, "text/plain"]))
    r = logged_in.post(template.format(**PATH_VALUES), content=body, headers={"Content-Type": content_type})
    assert _family_error(openapi, template, r) == []


@_FUZZ
@given(data=st.data())
def test_one_broken_required_field_gets_a_4xx_in_the_family_shape(
    logged_in: httpx.Client, openapi: dict[str, Any], data: st.DataObject
) -> None:
    template = data.draw(st.sampled_from(post_templates(openapi)))
    content = openapi["paths"][template]["post"]["requestBody"]["content"]
    media, spec = next(iter(content.items()))
    path, field_schema = data.draw(st.sampled_from(required_fields(spec["schema"], openapi)), label="field")
    body = copy.deepcopy(VALID[template])
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if media == FORM or data.draw(st.booleans(), label="delete"):
        del parent[path[-1]]
    else:
        allowed = _allowed(field_schema)
        parent[path[-1]] = data.draw(JSON.filter(lambda v: _json_type(v) not in allowed), label="wrong type")
    raw = urlencode(body).encode() if media == FORM else orjson.dumps(body)
    r = logged_in.post(template.format(**PATH_VALUES), content=raw, headers={"Content-Type": media})
    assert _family_error(openapi, template, r) == []


@_FUZZ
@given(data=st.data())
def test_odd_query_parameters_never_give_a_500(logged_in: httpx.Client, openapi: dict[str, Any], data: st.DataObject) -> None:
    # Every GET of the API families with its documented query parameters set to arbitrary text.
    templates = sorted(t for t, ops in openapi["paths"].items() if "get" in ops and t.split("/")[1] in ("arm", "collection", "ada"))
    template = data.draw(st.sampled_from(templates))
    op = openapi["paths"][template]["get"]
    names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
    params = data.draw(st.dictionaries(st.sampled_from(names), st.text(max_size=12), max_size=4)) if names else {}
    values = {**PATH_VALUES, "batchuuid": "x", "batchId": "x", "settlementId": "x", "id": "x"}
    r = logged_in.get(template.format(**values), params=params)
    assert r.status_code < 500, (template, params, r.text[:300])
    assert schema_problems(openapi, "GET", template, r.status_code, r.json()) == []
