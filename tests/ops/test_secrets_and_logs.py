"""Secrets and tokens are written nowhere; the run log is JSON lines with personal data masked."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from etl.logs import mask_name, mask_text, run_log
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from etl.sandbox.config import Credentials
from tests.conftest import SAMPLE
from tests.ops.support import cli, fill_inbox, write_config

# Distinctive values: found anywhere they must not be, they are unmistakable.
CLIENT_ID = "cid-QQZX-4f1e9b7c"
CLIENT_SECRET = "SECRET-QQZX-9f8e7d6c5b4a"
ADA_CODE = "ADACODE-QQZX-1a2b3c4d5e"


def _every_file(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_secret_or_token_is_written_anywhere(tmp_path: Path) -> None:
    creds = Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, ada_api_code=ADA_CODE)
    sandbox_state = tmp_path / "remote" / "sandbox-state.json"
    secrets = {"AMILI_NO_CLIENT_ID": CLIENT_ID, "AMILI_NO_CLIENT_SECRET": CLIENT_SECRET,
               "AMILI_SE_ADA_API_CODE": ADA_CODE}
    ours = tmp_path / "ours"
    ours.mkdir()
    outputs: list[str] = []
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json", credentials=creds,
                                       state_file=sandbox_state, state_flush_s=0.0)) as sb:
        config = write_config(ours, sb.base_url, log=f'dir = "{ours / "logs"}"\nlevel = "debug"')
        fill_inbox(ours / "inbox")
        for args in (["config", "check"], ["inbox"], ["runs"], ["run", "--force", "--bank", str(ours / "inbox")]):
            extra = [str(ours / "inbox")] if args == ["inbox"] else []
            proc = cli(*args, "--config", str(config), *extra, secrets=secrets)
            assert proc.returncode in (0, 1), (args, proc.stdout, proc.stderr)
            outputs += [proc.stdout, proc.stderr]
        run_id = json.loads(cli("runs", "--json", "--config", str(config)).stdout.splitlines()[0])["run_id"]
        for args in (["show", run_id], ["rerun", "--only-failed", run_id], ["state", "export", str(ours / "export")]):
            proc = cli(*args, "--config", str(config), secrets=secrets)
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
            outputs += [proc.stdout, proc.stderr]
        time.sleep(0.2)
        tokens = list(sb.state.tokens)
    assert tokens, "the sandbox issued tokens"
    # The sandbox's own state file holds none of them either.
    saved = sandbox_state.read_bytes()
    assert b'"tokens"' not in saved and not [t for t in tokens if t.encode() in saved]
    needles = [CLIENT_ID, CLIENT_SECRET, ADA_CODE, *tokens]
    files = _every_file(ours)
    assert any(p.suffix == ".parquet" for p in files) and any(p.suffix == ".jsonl" for p in files)
    assert any(p.suffix == ".duckdb" for p in files) and any(p.name == "summary.json" for p in files)
    for p in files:
        data = p.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, f"{needle[:8]}... found in {p}"
    for text in outputs:
        for needle in needles:
            assert needle not in text


def test_the_run_log_is_json_lines_with_personal_data_masked(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    logger = logging.getLogger("etl.test")
    with run_log(log, "R1", secrets=["hunter2-very-secret"]):
        logger.info("payer 01017012345 paid into 1506.29.95960 with token=abc.def.ghi",
                    extra={"event": "payment", "fields": {"payer_name": "Kari Nordmann", "pnr": "19850101-1234",
                                                          "amount": "1234.50", "note": "key hunter2-very-secret"}})
    logger.info("outside the run: not logged")
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1
    rec = lines[0]
    assert rec["run_id"] == "R1" and rec["event"] == "payment" and rec["level"] == "info"
    assert "01017012345" not in rec["message"] and "*********45" in rec["message"]
    assert "95960" not in rec["message"] and "abc.def.ghi" not in rec["message"]
    assert rec["payer_name"] == "K*** N***"
    assert rec["pnr"] == "********-**34"
    assert rec["amount"] == "1234.50"
    assert "hunter2" not in json.dumps(rec)


def test_masking_keeps_dates_and_amounts_readable() -> None:
    assert mask_text("2026-11-20 20261120 1234.50 12 rows") == "2026-11-20 20261120 1234.50 12 rows"
    assert mask_text("bankgiro 5402-9681") == "bankgiro ****-**81"
    assert mask_text("IBAN NO9386011117947") == "IBAN NO93*********47"
    assert mask_text("Bearer eyJhbGciOi.x.y") == "Bearer [redacted]"
    assert mask_name("Anna-Lena  Svensson") == "A*** S***"
