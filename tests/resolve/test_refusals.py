"""Every reason a filled row is refused, each in rejects.csv with its reason, while the good row of the same file is
carried out and nothing else changes (one sample run, one filled file with a row per reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.resolve.support import cli, first_run, read_csv, report_rows, state_rows, write_filled


def _copy(rows: list[dict[str, str]], category: str, **values: str) -> dict[str, str]:
    row = {**next(r for r in rows if r["category"] == category), **values}
    rows.append(row)
    return row


# (label, category of the row copied, what is filled, the reason's words)
CASES = [
    ("unknown_break", "unmatched_payment", {"break_key": "NETS-no-such-payment", "action": "explain",
                                            "action_note": "x"}, "unknown break"),
    ("unknown_invoice", "unmatched_payment", {"action": "match", "action_invoice": "999999"}, "unknown invoice '999999'"),
    ("larger_than_open", "unmatched_payment", {"action": "match", "action_invoice": "100023"},
     "amount 2953.21 NOK is larger than what is open on invoice 100023 (1605.41 NOK)"),
    ("match_without_invoice", "unmatched_payment", {"action": "match"}, "match needs action_invoice"),
    ("does_not_fit", "unmatched_payment", {"action": "write_off"}, "write_off does not fit the category unmatched_payment"),
    ("refund_does_not_fit", "underpayment", {"action": "refund"}, "refund does not fit the category underpayment"),
    ("unknown_action", "unmatched_payment", {"action": "delete"}, "action 'delete' is not one of"),
    ("explain_without_note", "unmatched_payment", {"action": "explain"}, "explain needs an action_note"),
    ("already_delivered", "invalid_reference", {"action": "match", "action_invoice": "705009"},
     "the payment went to Amili already (confirmed)"),
    ("nothing_to_reopen", "underpayment", {"action": "reopen"}, "nothing to reopen"),
    ("already_resolved", "overpayment", {"action": "refund"}, "already resolved: explain by kari"),
]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from etl.sandbox import EmbeddedSandbox, SandboxConfig
    from tests.conftest import SAMPLE

    tmp = tmp_path_factory.mktemp("refusals")
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        config, folder = first_run(tmp, sb.base_url)
        rows = report_rows(folder, tmp / "state.duckdb")
        good = next(r for r in rows if r["category"] == "overpayment")
        good.update(action="explain", action_note="agreed with the customer: kept as credit")
        lines = {}
        for label, category, values, _ in CASES:
            _copy(rows, category, **values)
            lines[label] = len(rows) + 1  # its row in the file (header = row 1)
        filled = write_filled(tmp / "filled.csv", rows)
        outbox_before = state_rows(tmp / "state.duckdb", "SELECT count(*) FROM outbox")
        proc = cli("resolve", "--config", str(config), "--out", str(tmp / "out"), str(filled))
    rejects = next((tmp / "out").glob("resolve-*/rejects.csv"))
    return {"proc": proc, "rejects": {int(r["source_row"]): r for r in read_csv(rejects)}, "lines": lines,
            "state": tmp / "state.duckdb", "outbox_before": outbox_before}


@pytest.mark.parametrize(("label", "reason"), [(c[0], c[3]) for c in CASES])
def test_each_reason_is_in_rejects(resolved: dict, label: str, reason: str) -> None:
    row = resolved["rejects"][resolved["lines"][label]]
    assert row["outcome"] == "refused"
    assert reason in row["reason"], row["reason"]


def test_refused_rows_affect_nothing_else(resolved: dict) -> None:
    proc = resolved["proc"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(resolved["rejects"]) == len(CASES)
    assert state_rows(resolved["state"], "SELECT category, action, action_note, state FROM resolutions") == [
        ("overpayment", "explain", "agreed with the customer: kept as credit", "active")]
    assert state_rows(resolved["state"], "SELECT count(*) FROM outbox") == resolved["outbox_before"]


def test_unreadable_file_is_exit_3_and_changes_nothing(tmp_path: Path, sandbox) -> None:
    config, folder = first_run(tmp_path, sandbox.base_url)
    good = write_filled(tmp_path / "good.csv", [{**report_rows(folder, tmp_path / "state.duckdb")[0],
                                                 "action": "explain", "action_note": "n"}])
    bad = tmp_path / "notes.csv"
    bad.write_text("category,amount\nx,1\n", encoding="utf-8")
    proc = cli("resolve", "--config", str(config), str(good), str(bad))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "notes.csv: line 1: not a filled discrepancies file: no column break_key, action" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert state_rows(tmp_path / "state.duckdb", "SELECT count(*) FROM resolutions") == [(0,)]
