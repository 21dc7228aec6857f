"""Read back what Amili holds for our creditors (GET lists), for month-end missing_in_amili / unknown_in_amili.

Uses the etl.amili clients (transport, auth, retries); nothing here sends anything. What can be read back:
- ADA creditor payments (`GET creditor--payments`, `where` on the creditor, Eve paging): key = creditor_payment_reference;
- ADA payout specifications (`GET finance--payout-specifications`): key = ADA's creditor payment id (what was paid out);
- ARM documents (`GET clients/{no}/documents`, ARM paging): key = `{client_no}:{documentNo}` as the plan keys them;
- Collection settlements (`GET orgs/{orgId}/settlements`, fromDate/toDate, cursor paging in summary.nextPageToken):
  key = uniqueSourcePaymentId (our Collection payment's key; none when the debtor paid Amili directly), read from the
  period's first day to SETTLEMENT_LAG_DAYS after its last (a payment confirmed on the last day settles later).
ARM payment reservations and autopostings have no list endpoint that returns our keys, so they are not read back
(their confirmations are checked through the outbox instead).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import orjson
import polars as pl

from etl.amili.ada import AdaClient
from etl.amili.arm import ArmClient
from etl.amili.auth import AdaAuth, NorwayAuth
from etl.amili.client import ApiClient
from etl.amili.collection import CollectionClient
from etl.amili.transport import Transport
from etl.config import Config, CreditorConfig
from etl.errors import AmiliUnavailableError
from etl.money import decimal_to_minor

__all__ = ["READBACK_SCHEMA", "SETTLEMENT_LAG_DAYS", "read_back", "readback_scope", "settlement_window"]

READBACK_SCHEMA: dict[str, pl.DataType] = {
    "api": pl.String(),
    "creditor": pl.String(),
    "key": pl.String(),
    "amili_id": pl.String(),
    "amount_minor": pl.Int64(),
    "currency": pl.String(),
    "status": pl.String(),
    "booked": pl.Date(),
    "batch_id": pl.String(),
    "invoice_number": pl.String(),
    "case_number": pl.String(),
    "reference": pl.String(),
}

_MAX_PAGES = 10_000  # a guard against a server that never stops paging

# Collection settles a payment on the day its batch is processed or on a following banking day. A week covers a
# weekend and the longest run of Norwegian bank holidays (Easter: Thursday to Monday), so a payment confirmed on
# the period's last day has settled by the last day read. docs/month-end.md explains the rule to accountants.
SETTLEMENT_LAG_DAYS = 7


async def _get(client: ApiClient, path: str, params: dict[str, str]) -> Any:
    resp = await client.call("GET", path, params=params)
    if resp.status != 200 or not isinstance(resp.body, dict):
        raise AmiliUnavailableError(f"read-back GET {client.base}/{path}: HTTP {resp.status}")
    return resp.body


def _day(value: Any) -> dt.date | None:
    """A date from ISO or RFC 1123 text ('Fri, 20 Nov 2026 00:00:00 GMT'), else None."""
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%d", "%a, %d %b %Y %H:%M:%S GMT"):
        try:
            return dt.datetime.strptime(value[:10] if fmt == "%Y-%m-%d" else value, fmt).date()
        except ValueError:
            continue
    return None


def _minor(amount: Any) -> int | None:
    """An amount Amili sent as a decimal, in minor units; None when it sent none."""
    return decimal_to_minor(amount) if amount is not None else None


async def _eve_items(client: AdaClient, resource: str, c: CreditorConfig) -> AsyncIterator[dict[str, Any]]:
    """Every item of an ADA (Eve) list resource for the creditor, page by page until there is no `next` link."""
    where = orjson.dumps({"creditor": c.ada_creditor}).decode()
    for page in range(1, _MAX_PAGES):
        body = await _get(client, resource, {"where": where, "max_results": "100", "page": str(page)})
        for item in body.get("_items") or []:
            yield item
        if "next" not in (body.get("_links") or {}):
            break


async def _ada(client: AdaClient, c: CreditorConfig) -> list[dict[str, Any]]:
    return [{"api": "ada.creditor-payments", "creditor": c.name, "key": d.get("creditor_payment_reference"),
             "amili_id": d.get("_id"), "amount_minor": _minor(d.get("amount")), "currency": d.get("currency"),
             "status": d.get("status") or d.get("_payment_status"), "booked": _day(d.get("bank_transaction_date"))}
            async for d in _eve_items(client, "creditor--payments", c)]


async def _ada_payouts(client: AdaClient, c: CreditorConfig) -> list[dict[str, Any]]:
    """ADA payout specification rows: what Amili paid out per creditor payment (key = ADA's payment id)."""
    return [{"api": "ada.payout-specifications", "creditor": c.name, "key": d.get("creditor_payment"),
             "amili_id": d.get("_id"), "amount_minor": _minor(d.get("total_amount", d.get("amount"))),
             "currency": d.get("currency"), "status": d.get("finance_category"), "booked": _day(d.get("booking_date"))}
            async for d in _eve_items(client, "finance--payout-specifications", c)]


async def _arm(client: ArmClient, c: CreditorConfig) -> list[dict[str, Any]]:
    rows = []
    for page in range(1, _MAX_PAGES):
        body = await _get(client, "documents", {"pagesize": "1000", "pageno": str(page)})
        for d in body.get("documents") or []:
            amounts = d.get("currencyAmounts") or {}
            rows.append({"api": "arm.documents", "creditor": c.name, "key": f"{c.arm_client_no}:{d.get('documentNo')}",
                         "amili_id": d.get("arItemId"),
                         "amount_minor": _minor(amounts.get("inclVat")),
                         "currency": d.get("currency"), "status": None, "booked": _day(d.get("documentDate"))})
        if page >= int(body.get("pageCount") or 1):
            break
    return rows


def settlement_window(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The settlement dates read for the period [start, end): (first, last), both inclusive as the API takes them."""
    return start, end + dt.timedelta(days=SETTLEMENT_LAG_DAYS - 1)


def _text(value: Any) -> str | None:
    """A non-blank id as text (Amili may send numbers), else None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value)


async def _collection(client: CollectionClient, c: CreditorConfig, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """The organisation's settlements dated in the settlement window of [start, end), every page."""
    rows = []
    first, last = settlement_window(start, end)
    params = {"fromDate": first.isoformat(), "toDate": last.isoformat(), "pageSize": "100"}
    for _ in range(_MAX_PAGES):
        body = await _get(client, "settlements", params)
        for d in body.get("data") or []:
            rows.append({"api": "collection.settlements", "creditor": c.name, "key": _text(d.get("uniqueSourcePaymentId")),
                         "amili_id": _text(d.get("settlementId")), "amount_minor": _minor(d.get("amount")),
                         "currency": d.get("currency"), "status": d.get("collectionType"),
                         "booked": _day(d.get("settlementDate")), "batch_id": _text(d.get("batchId")),
                         "invoice_number": _text(d.get("invoiceNumber")), "case_number": _text(d.get("caseNumber")),
                         "reference": _text(d.get("customerReference"))})
        token = (body.get("summary") or {}).get("nextPageToken")
        if not token:
            break
        params["pageToken"] = str(token)
    return rows


def _reads_ada(c: CreditorConfig) -> bool:
    return c.payments_to == "ada" and bool(c.ada_base_url and c.ada_creditor)


def _reads_arm(c: CreditorConfig) -> bool:
    return c.invoices_to == "arm" and bool(c.arm_base_url) and c.arm_client_no is not None


def _reads_collection(c: CreditorConfig) -> bool:
    return c.payments_to == "collection" and bool(c.collection_base_url and c.collection_org_id)


def readback_scope(config: Config) -> list[str]:
    """'api|creditor' for every list read_back reads: only there can an item be missing_in_amili."""
    return [f"ada.creditor-payments|{c.name}" for c in config.creditors if _reads_ada(c)] + [
        f"arm.documents|{c.name}" for c in config.creditors if _reads_arm(c)] + [
        f"collection.settlements|{c.name}" for c in config.creditors if _reads_collection(c)]


async def _read_all(config: Config, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    transport = Transport(config.http)
    try:
        rows: list[dict[str, Any]] = []
        for c in config.creditors:
            norway = NorwayAuth(transport, c)  # ARM and Collection share the creditor's token
            if _reads_ada(c):
                ada = AdaClient(transport, AdaAuth(transport, c), str(c.ada_base_url))
                rows += await _ada(ada, c)
                rows += await _ada_payouts(ada, c)
            if _reads_arm(c):
                arm = ArmClient(transport, norway, str(c.arm_base_url), int(c.arm_client_no or 0))
                rows += await _arm(arm, c)
            if _reads_collection(c):
                col = CollectionClient(transport, norway, str(c.collection_base_url), str(c.collection_org_id))
                rows += await _collection(col, c, start, end)
        return rows
    finally:
        await transport.aclose()


def read_back(config: Config, start: dt.date, end: dt.date) -> pl.DataFrame:
    """READBACK_SCHEMA rows: what Amili holds for the configured creditors.

    ARM documents and ADA creditor payments are kept whatever their date: an item we confirmed in any earlier month
    must still be there (unknown_in_amili.sql judges only those booked in the period). Payout specification rows are
    those booked in [start, end) or undated; Collection settlements those of the settlement window
    (settlement_window), already chosen by the API's date filter.
    """
    rows = asyncio.run(_read_all(config, start, end))
    frame = pl.DataFrame(rows, schema=READBACK_SCHEMA) if rows else pl.DataFrame(schema=READBACK_SCHEMA)
    in_period = pl.col("booked").is_null() | ((pl.col("booked") >= start) & (pl.col("booked") < end))
    return frame.filter(in_period | (pl.col("api") != "ada.payout-specifications"))
