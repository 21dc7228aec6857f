"""Acceptance: real delivery through a recording proxy that loses answers after the sandbox stored the request.

The proxy (tests/e2e/recording_proxy.py) judges the traffic on its own, from the wire and the sandbox's ledger,
without the client's bookkeeping. After the runs, the outbox and the ledger are compared. Checked:
 (a) no JSON number in a POST body with more than two fractional digits;
 (b) no POST of a key the sandbox already held without a lookup of that key since its previous POST;
 (c) no key the outbox records `rejected` that the sandbox holds;
 (d) the ledger accepted every key at most once;
 (e) no key lost: every planned key (but the planted refusals) in the ledger, except ARM autopostings whose
     answer was lost (left `unknown` by design: ARM has no lookup for them), which are reported;
 (f) nothing else left unfinished after the reruns (the last one without faults).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import importlib
from etl.amili import Progress
from etl.config import Config
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.store import open_store

from . import delivery_support as ds
from .recording_proxy import RecordingProxy

N = 30  # items per endpoint (plus one planted refusal per payment endpoint)
APIS = ("arm", "collection", "ada", "autopostings")
RUNS = 5  # the last one, if reached, without faults
SEED = 20261121
# Readings arrive with SandboxConfig(reading=...) on another branch; before that merge the sandbox has one behaviour.


def _readings() -> tuple[str, ...]:
    """The sandbox's readings where it has them (etl.sandbox.config, else etl.sandbox.readings), else today's one."""
    for name in ("etl.sandbox.config", "etl.sandbox.readings"):
        try:
            found = getattr(importlib.import_module(name), "READINGS", None)
        except ImportError:
            continue
        if found:
            return tuple(found)  # a dict of name -> description gives its names
    return ("lenient",)


READINGS = _readings()
HAS_READING = "reading" in {f.name for f in dataclasses.fields(SandboxConfig)}
FINAL = ("confirmed", "rejected")
# A generous client timeout: a lost answer must come from the proxy's faults, not from a slow machine.
HTTP: dict[str, Any] = {"timeout_s": 10.0, "max_attempts": 6, "max_retry_time_s": 10, "poll_interval_s": 0.02}
VARIANTS: dict[str, dict[str, Any]] = {
    # Documents in /documents/batches, ADA bulk lists, small Collection and autoposting batches.
    "batches": {**HTTP, "document_batch_min": 4, "document_batch_size": 4, "ada_batch_size": 4,
                "collection_batch_size": 4, "autoposting_batch_size": 4},
    # One POST per document and per ADA payment.
    "singles": {**HTTP, "document_batch_min": 1000, "ada_batch_size": 0, "collection_batch_size": 4,
                "autoposting_batch_size": 4},
}


@dataclasses.dataclass
class Findings:
    """What the proxy and the final ledger/outbox comparison found; empty lists mean the check holds."""

    reading: str
    variant: str
    amounts: list[str]
    resends: dict[str, int]
    resent_keys: int
    resend_examples: list[str]
    rejected_but_held: list[str]
    doubles: list[str]
    lost: list[str]
    unfinished: list[str]
    autopostings_unknown: list[str]
    faults: dict[str, int]
    faulted_posts: dict[str, int]
    posts: int
    runs: int

    def failed(self) -> bool:
        """True when any check (a)-(f) fails; unknown autopostings alone are allowed."""
        return bool(self.amounts or self.resends or self.rejected_but_held or self.doubles or self.lost or self.unfinished)

    def describe(self) -> str:
        """A readable account for the assertion message and the log."""
        return json.dumps(dataclasses.asdict(self) | {
            "amounts": {"count": len(self.amounts), "distinct_values": len({a.split("=")[-1] for a in self.amounts}),
                        "by_endpoint": dict(Counter(_endpoint(a.split(" ")[0]) for a in self.amounts)),
                        "examples": self.amounts[:5]},
            "rejected_but_held": {"count": len(self.rejected_but_held), "keys": self.rejected_but_held[:10]},
            "doubles": {"count": len(self.doubles), "keys": self.doubles[:10]},
            "lost": {"count": len(self.lost), "keys": self.lost[:10]},
            "unfinished": {"count": len(self.unfinished), "keys": self.unfinished[:10]},
        }, indent=1)


def _endpoint(path: str) -> str:
    """A path with its ids left out, to count by endpoint."""
    parts = path.strip("/").split("/")
    return "/".join("{id}" if i and parts[i - 1] in ("clients", "orgs", "batches") and p != "batches" else p
                    for i, p in enumerate(parts))


def _sandbox_config(reading: str) -> SandboxConfig:
    # batch_delay_s=0: a batch is processed by the next request to its family or ledger read, which the proxy makes
    # before every POST, so "the sandbox already holds it" never depends on timing.
    return SandboxConfig(batch_delay_s=0.0, **({"reading": reading} if HAS_READING else {}))


def _planned(config: Config) -> pl.DataFrame:
    """The delivery tests' items, with documents split into excl. VAT and VAT (more amounts in the bodies)."""
    inv, pays = ds.frames(N, bad=True)
    inv = inv.with_columns((pl.col("amount_minor") * 4 // 5).alias("amount_excl_vat_minor")).with_columns(
        (pl.col("amount_minor") - pl.col("amount_excl_vat_minor")).alias("vat_minor"))
    return ds.plan_items(config, inv, pays)


def _run(config: Config, run_id: str, planned: pl.DataFrame) -> None:
    """One run: record the intents, deliver what may go."""
    with open_store(config.state_path) as store:
        items = ds.record_intents(store, run_id, planned, ds.NOW)
        ds.deliver(store, config, run_id, items.filter(pl.col("action") == "deliver"), lambda: ds.NOW, Progress(enabled=False))


def _unfinished(box: pl.DataFrame) -> pl.DataFrame:
    """Items not final, other than autopostings whose answer was lost (they are never resent, by design)."""
    legit = (pl.col("api") == "arm.autopostings") & pl.col("state").is_in(["unknown", "sent"])
    return box.filter(~pl.col("state").is_in(FINAL) & ~legit)


def _measure(config: Config, sandbox_url: str, proxy: RecordingProxy, planned: pl.DataFrame, runs: int,
             reading: str, variant: str) -> Findings:
    """Compare the outbox with the sandbox's ledger and collect the proxy's verdicts."""
    box = ds.outbox(config).with_columns(pl.col("key").str.split(":").list.last().alias("bare"))
    ledger = ds.ledger(sandbox_url)
    accepted = Counter[tuple[str, str]]()
    for item in ledger:
        accepted[(item["api"], item["key"])] += item["accepted"]
    held = {k for k, n in accepted.items() if n >= 1}
    rejected = box.filter(pl.col("state") == "rejected")
    unknown_auto = box.filter((pl.col("api") == "arm.autopostings") & ~pl.col("state").is_in(FINAL))
    legit_missing = {(a, k) for a, k in unknown_auto.select("api", "bare").iter_rows()}
    good = planned.filter(~pl.col("key").str.ends_with("-bad")).with_columns(
        pl.col("key").str.split(":").list.last().alias("bare"))
    # ARM autopostings are in the ledger as arItemId/voucherNo; the voucherNo is our key.
    ledger_keys = {(a, k.rsplit("/", 1)[-1] if a == "arm.autopostings" else k) for a, k in held}
    lost = [f"{a}:{k}" for a, k in good.select("api", "bare").iter_rows()
            if (a, k) not in ledger_keys and (a, k) not in legit_missing]
    by_api = Counter(v.key[0] for v in proxy.resend_violations)
    return Findings(
        reading=reading, variant=variant,
        amounts=[f"{v.path} {v.field}={v.literal}" for v in proxy.amount_violations],
        resends=dict(sorted(by_api.items())),
        resent_keys=len({v.key for v in proxy.resend_violations}),
        resend_examples=[f"{v.key[0]}:{v.key[2]} via {v.path}" for v in proxy.resend_violations[:8]],
        rejected_but_held=[f"{a}:{k}" for a, k in rejected.select("api", "bare").iter_rows() if (a, k) in ledger_keys],
        doubles=[f"{a}:{k} x{n}" for (a, k), n in sorted(accepted.items()) if n > 1],
        lost=lost,
        unfinished=[f"{a}:{k} {s}" for a, k, s in _unfinished(box).select("api", "key", "state").iter_rows()],
        autopostings_unknown=[f"{k} ({'applied' if ('arm.autopostings', k) in ledger_keys else 'not in ledger'})"
                              for k in sorted(unknown_auto.get_column("key").to_list())],
        faults=dict(sorted(proxy.faults.items())),
        faulted_posts=dict(sorted(Counter(_endpoint(e.path) for e in proxy.exchanges
                                          if e.method == "POST" and e.client_status != str(e.upstream_status)).items())),
        posts=sum(1 for e in proxy.exchanges if e.method == "POST"),
        runs=runs,
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("reading", READINGS)
def test_delivery_through_a_lossy_proxy_is_exactly_once(tmp_path: Path, reading: str, variant: str) -> None:
    """Answers lost after the sandbox stored the request: no blind resend, no float noise, no key twice or lost."""
    with EmbeddedSandbox(_sandbox_config(reading)) as sandbox, RecordingProxy(sandbox.base_url, seed=SEED) as proxy:
        config = ds.load(ds.write_config(tmp_path, proxy.base_url, VARIANTS[variant], apis=APIS))
        ds.seed(sandbox.base_url, N)  # what Amili holds already goes straight to the sandbox, not through the proxy
        planned = _planned(config)
        runs = 0
        for i in range(RUNS):
            proxy.faults_enabled = i < RUNS - 1  # the last rerun meets no fault: whatever is left then is stuck
            _run(config, f"r{i}", planned)
            runs += 1
            if _unfinished(ds.outbox(config)).height == 0:
                break
        findings = _measure(config, sandbox.base_url, proxy, planned, runs, reading, variant)
    (tmp_path / "findings.json").write_text(findings.describe(), encoding="utf-8")
    print(findings.describe())
    # The proxy lost answers on every POST endpoint (else a check could pass for lack of a chance to fail).
    assert len(findings.faulted_posts) == 5, findings.faulted_posts
    assert not findings.failed(), findings.describe()


def _document(no: str, amount: str = "1000.00") -> bytes:
    """A raw ARM document POST body (raw, so the amount literal is exactly what the proxy sees)."""
    return (f'{{"metadata":{{"userId":"t"}},"document":{{"currency":"NOK","currencyAmounts":{{"exclVat":{amount},'
            f'"inclVat":{amount},"vat":0}},"customerNo":"K1","documentDate":"2026-11-20","documentNo":"{no}",'
            f'"documentType":"IN","dueDate":"2026-12-04"}}}}').encode()


def test_the_proxy_judges_resends_lookups_amounts_and_drops_on_its_own() -> None:
    """The judge itself: a blind resend counts, a resend after a lookup does not; a 3-decimal literal counts."""
    with EmbeddedSandbox(_sandbox_config(READINGS[0])) as sandbox, RecordingProxy(sandbox.base_url, seed=1) as proxy:
        proxy.faults_enabled = False
        base = proxy.base_url
        token = ds.httpx.post(f"{base}/auth/token", data={"grant_type": "client_credentials", "client_id": "sandbox",
                                                          "client_secret": "sandbox"}).json()["access_token"]
        arm = ds.httpx.Client(base_url=f"{base}/arm/clients/{ds.ARM_CLIENT}",
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert arm.post("/documents", content=_document("X1")).status_code == 201
        assert arm.post("/documents", content=_document("X1")).status_code == 200  # blind: EXISTS, but (b) counts it
        assert arm.get("/documents", params={"documentno": "x1"}).status_code == 200  # a lookup (case-insensitive)
        assert arm.post("/documents", content=_document("X1")).status_code == 200  # after a lookup: allowed
        assert arm.post("/documents", content=_document("X2", "10.005")).status_code in (201, 422)
        assert [(v.key, v.path) for v in proxy.resend_violations] == [(("arm.documents", str(ds.ARM_CLIENT), "x1"),
                                                                      f"/arm/clients/{ds.ARM_CLIENT}/documents")]
        assert [(v.field, v.literal) for v in proxy.amount_violations] == [
            ("$.document.currencyAmounts.exclVat", "10.005"), ("$.document.currencyAmounts.inclVat", "10.005")]
        ada_token = ds.httpx.post(f"{base}/ada/authenticates/api-code", json={"api_code": "sandbox"}).json()["access_token"]
        ada = ds.httpx.Client(base_url=f"{base}/ada", headers={"X-API-Key": ada_token})
        payment = {"amount": 10.5, "bank_transaction_date": "Fri, 20 Nov 2026 00:00:00 GMT", "creditor": ds.ADA_CREDITOR,
                   "creditor_payment_reference": "Y1", "currency": "SEK", "invoice_number": "S1", "origin": "creditor_system"}
        ds.seed(sandbox.base_url, 2)
        assert ada.post("/creditor--payments", json=payment).status_code == 201
        where = json.dumps({"creditor_payment_reference": "Y1"})
        assert ada.get("/creditor--payments", params={"where": where}).status_code == 200
        ada.post("/creditor--payments", json=payment)  # refused as not unique, but looked up first: allowed
        assert len(proxy.resend_violations) == 1
        # A dropped answer: the client sees the connection close, the sandbox has stored the document.
        proxy.faults_enabled, proxy.fault_share, proxy.drop_share = True, 1.0, 1.0
        with pytest.raises(ds.httpx.RemoteProtocolError):
            arm.post("/documents", content=_document("X3"))
        assert ("arm.documents", "X3") in {(i["api"], i["key"]) for i in ds.ledger(sandbox.base_url)}
        assert proxy.faults == Counter({"drop": 1})
