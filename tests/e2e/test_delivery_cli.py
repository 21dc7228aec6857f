"""`amili-etl run` in its own process: exit 4 while a document batch is still processing, and a rerun delivers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx

from etl.sandbox import EmbeddedSandbox, SandboxConfig
from tests.conftest import SAMPLE, write_sample_config
from tests.sandbox.support import ManualClock

from .test_run import _latest_run, _run


def test_a_document_batch_past_the_poll_limit_exits_4_and_its_payments_wait_for_it(tmp_path: Path) -> None:
    # 23 invoices go as one /documents/batches batch that stays PROCESSING past our poll limit: the sandbox's clock
    # stands still until the test moves it, so the batch is still processing however long the run takes.
    clock = ManualClock()
    with EmbeddedSandbox(SandboxConfig(batch_delay_s=4.0, seed_file=SAMPLE / "sandbox_seed.json", clock=clock)) as sb:
        config = write_sample_config(tmp_path, sb.base_url)
        config.write_text(config.read_text().replace("[http]", "[http]\npoll_timeout_s = 0.5\npoll_interval_s = 0.1"))
        first = _run(config, "--invoices", str(SAMPLE / "no"))
        assert first.returncode == 4, first.stdout + first.stderr
        summary = json.loads((_latest_run(tmp_path) / "summary.json").read_text(encoding="utf-8"))
        assert summary["totals"]["pending"] == {"arm.documents": 23, "arm.paymentreservations": 14}
        assert summary["sent"]["arm.documents"] == 23 and summary["sent"]["arm.paymentreservations"] == 0
        # One break per cause: the overpayment waiting behind the batch is one row, its detail and api_status saying
        # that Amili has not answered; the payments waiting count as delivered (planned for Amili) and the tie holds.
        with (_latest_run(tmp_path) / "discrepancies.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        over = next(r for r in rows if r["category"] == "overpayment")
        assert (over["api"], over["api_status"]) == ("arm.paymentreservations", "intent")
        assert over["detail"].endswith("; also: no final answer from Amili yet (intent)")
        places = [(r["source_file"], r["source_line"]) for r in rows if r["category"] != "duplicate_payment"]
        assert len(places) == len(set(places))
        tie = summary["totals"]["tie"]["NOK"]
        assert tie["unexplained"] == "0.00" and tie["delivered"] != "0.00"
        ledger = httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["items"]
        assert not [i for i in ledger if i["api"] == "arm.paymentreservations"]  # none refused for a missing document

        clock.advance(4.0)  # Amili finishes the batch
        assert len(httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["items"]) == 23
        second = _run(config, "--invoices", str(SAMPLE / "no"))
        assert second.returncode == 1, second.stdout + second.stderr  # the planted problems remain
        summary2 = json.loads((_latest_run(tmp_path) / "summary.json").read_text(encoding="utf-8"))
        assert summary2["sent"]["arm.documents"] == 0  # polled, not resent
        assert summary2["sent"]["arm.paymentreservations"] == 14
        ledger = httpx.get(f"{sb.base_url}/_sandbox/ledger").json()["items"]
        assert len(ledger) == 23 + 14 and all(i["accepted"] == 1 for i in ledger)
