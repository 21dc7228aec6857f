"""Transport safety and privacy (issue 14, items 7 and 8).

Every command that talks to Amili refuses plain http to a host that is not loopback, with the rule `config check`
applies; `verify_tls = false` needs AMILI_ETL_INSECURE_TLS=1 and then warns on every run (stderr and the log).
File names are masked like row data in the log and on the terminal; every configured secret is redacted whatever
its length.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
from pathlib import Path

import pytest

from etl.amili.transport import Transport
from etl.config import HttpConfig, is_loopback_host, plain_http_problem
from etl.errors import ConfigError
from etl.logs import mask_text, run_log, secret_values
from etl.sandbox import EmbeddedSandbox, SandboxConfig
from tests.conftest import SAMPLE
from tests.ops.support import cli, write_config


class _Listener:
    """A TCP port that counts connections: proof that nothing was sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.sock.settimeout(0.2)
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize("url,bad", [
    ("http://arm.amili.no", True), ("http://10.0.0.5:8080/arm", True), ("http://127.0.0.1:9/arm", False),
    ("http://127.8.9.10/x", False), ("http://[::1]:80/x", False), ("http://localhost:8080/x", False),
    ("https://arm.amili.no", False), ("HTTP://example.com", True), ("http://localhost.evil.com/x", True),
])
def test_one_rule_for_plain_http(url: str, bad: bool) -> None:
    assert (plain_http_problem(url) is not None) is bad
    assert is_loopback_host("::1") and is_loopback_host("127.0.0.1") and not is_loopback_host("128.0.0.1")


def _remote_http_config(tmp: Path, port: int) -> Path:
    """A config whose token URL is plain http to a name that is not loopback (it resolves to our listener)."""
    config = write_config(tmp, f"http://127.0.0.1:{port}")
    text = config.read_text().replace(f"http://127.0.0.1:{port}/auth/token", "http://amili-auth.invalid/token")
    config.write_text(text)
    return config


def test_every_command_that_talks_to_amili_refuses_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    listener = _Listener()
    try:
        config = _remote_http_config(tmp_path, listener.port)
        inbox = tmp_path / "inbox"
        shutil.copytree(SAMPLE / "no", inbox)
        for args in (["run", "--bank", str(SAMPLE / "no")], ["run", "--dry-run", "--bank", str(SAMPLE / "no")],
                     ["rerun", "--only-failed", "X"], ["reconcile", "--period", "2026-11"],
                     ["inbox", str(inbox)], ["config", "check"]):
            proc = cli(*args, "--config", str(config))
            assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
            assert "Traceback" not in proc.stderr
            assert "http://amili-auth.invalid/token" in proc.stdout + proc.stderr
            assert "plain http to a remote host" in proc.stdout + proc.stderr
        assert listener.connections == 0
        assert not (tmp_path / "reports").exists()  # refused before anything started
        assert sorted(p.name for p in inbox.iterdir()) == sorted(p.name for p in (SAMPLE / "no").iterdir())
    finally:
        listener.close()


def test_the_transport_itself_refuses_plain_http_to_a_remote_host() -> None:
    import asyncio

    async def go() -> None:
        t = Transport(HttpConfig())
        try:
            with pytest.raises(ConfigError, match="plain http to a remote host"):
                await t.request("POST", "http://arm.amili.no/token", data={"client_secret": "x"})
        finally:
            await t.aclose()

    asyncio.run(go())


def test_verify_tls_false_needs_the_opt_in_and_then_warns_every_run(tmp_path: Path) -> None:
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        config = write_config(tmp_path, sb.base_url, http={"verify_tls": "false"})
        refused = cli("run", "--dry-run", "--bank", str(SAMPLE / "no"), "--config", str(config))
        assert refused.returncode == 2 and "AMILI_ETL_INSECURE_TLS=1" in refused.stderr, refused.stderr
        check = cli("config", "check", "--no-auth", "--config", str(config))
        assert check.returncode == 2 and "AMILI_ETL_INSECURE_TLS=1" in check.stdout
        from tests.ops.support import SECRET_ENV

        env = {**SECRET_ENV, "AMILI_ETL_INSECURE_TLS": "1"}
        for _ in range(2):
            proc = cli("run", "--bank", str(SAMPLE / "no"), "--invoices", str(SAMPLE / "no"), "--config", str(config),
                       secrets=env)
            assert proc.returncode in (0, 1), proc.stderr  # the second finds everything imported already
            assert "TLS certificates are NOT verified" in proc.stderr
        logs = sorted((tmp_path / "reports").glob("*/log.jsonl"))
        assert len(logs) == 2
        for log in logs:
            events = [json.loads(line) for line in log.read_text().splitlines()]
            warned = [e for e in events if e["event"] == "insecure_tls"]
            assert warned and warned[0]["level"] == "warning" and "NOT verified" in warned[0]["message"]


def test_masking_covers_ids_in_words_spaced_dotted_and_ibans_in_any_case() -> None:
    cases = {
        "OCR_fnr15076537108.txt": "OCR_fnr*********08.txt",
        "Transaktioner_97045210018_2026-11-20.csv": "Transaktioner_*********18_2026-11-20.csv",
        "konto 1506 29 95960": "konto **** ** ***60",
        "konto 1506.29.95960": "konto ****.**.***60",
        "iban no93 1506 2995 960": "iban no93 **** **** *60",
        "IBAN NO93 1506 2995 960 ok": "IBAN NO93 **** **** *60 ok",
        "fnr 150765 37108": "fnr ****** ***08",
        "org 985 123 456": "org *** *** *56",
        "x12345678901y": "x*********01y",
    }
    for text, masked in cases.items():
        assert mask_text(text) == masked, text
    # Readable stays readable: dates, amounts, run ids, sha256 and stable keys.
    keep = ("2026-11-20 20261120 1234.50 1234567.89 12 rows", "run 20261120T010203Z-ab12",
            "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "674dbeb208847b9501cc9138")
    for text in keep:
        assert mask_text(text) == text


def test_every_secret_is_redacted_whatever_its_length(tmp_path: Path) -> None:
    from etl.config import Secrets

    assert mask_text("id=q7 secret: q7x", ["q7x", "q7"]) == "id=[redacted] secret: [redacted]"
    assert mask_text("ab", ["ab"]) == "[redacted]"

    class _C:
        secrets = Secrets("q7", "x", None)

    class _Cfg:
        creditors = (_C(),)

    assert secret_values(_Cfg()) == ["q7", "x"]
    log = tmp_path / "run.jsonl"
    with run_log(log, "R1", secrets=["q7"]):
        logging.getLogger("etl.test").error("login q7 refused", extra={"event": "e", "fields": {"why": "bad q7"}})
    assert "q7" not in log.read_text()


def test_file_names_are_masked_in_the_log_and_on_the_terminal(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy2(SAMPLE / "no" / "ocr_nordlys_2026-11-20.txt", inbox / "OCR_fnr15076537108.txt")
    shutil.copy2(SAMPLE / "no" / "sparebank1_2026-11-20.csv", inbox / "Transaktioner_97045210018_2026-11-20.csv")
    shutil.copy2(SAMPLE / "no" / "invoices_nordlys_2026-11-20.xlsx", inbox / "invoices_nordlys_2026-11-20.xlsx")
    (inbox / "notes_1506 29 95960.txt").write_text("not a bank file\n")
    with EmbeddedSandbox(SandboxConfig(seed_file=SAMPLE / "sandbox_seed.json")) as sb:
        config = write_config(tmp_path, sb.base_url)
        proc = cli("run", "--bank", str(inbox), "--config", str(config))
        assert proc.returncode == 3, proc.stderr  # the notes file is unrecognised
        inbox_run = cli("inbox", "--force", "--config", str(config), str(inbox))
        runs = cli("runs", "--json", "--config", str(config))
        run_id = json.loads(runs.stdout.splitlines()[0])["run_id"]
        show = cli("show", run_id, "--config", str(config))
    terminal = proc.stdout + proc.stderr + inbox_run.stdout + inbox_run.stderr + show.stdout
    logs = "".join(p.read_text() for p in (tmp_path / "reports").glob("*/log.jsonl"))
    for text in (terminal, logs):
        for secret in ("15076537108", "97045210018", "1506 29 95960"):
            assert secret not in text
    assert "OCR_fnr*********08.txt" in proc.stdout and "Transaktioner_*********18_" in proc.stdout
    assert "OCR_fnr*********08.txt" in inbox_run.stdout
    assert "OCR_fnr*********08.txt" in logs
