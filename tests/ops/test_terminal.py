"""What the operator sees, in real processes: one line per stage and endpoint when piped (stdout), --quiet, -v,
full file names, and why Amili could not be reached as stderr's last line (and in the log, the summary and `show`)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from etl.terminal import StageLine, format_time
from tests.conftest import SAMPLE
from tests.ops.support import cli, write_config

_STAGES = ("read", "match", "deliver", "report")
LONG = "innbetalinger_fra_sparebank1_driftskonto_november_2026_uke_47.csv"  # longer than the old 44-character cut


def _inputs(tmp: Path) -> Path:
    folder = tmp / "in"
    shutil.copytree(SAMPLE / "no", folder)
    (folder / "sparebank1_2026-11-20.csv").rename(folder / LONG)
    return folder


def test_piped_output_is_one_line_per_stage_and_endpoint(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url, http={"ada_batch_size": 0, "document_batch_min": 1000})
    proc = cli("run", "--config", str(config), "--bank", str(_inputs(tmp_path)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr == ""  # stderr is for what went wrong; the story is on stdout, before the summary
    lines = proc.stdout.split("\nrun ", 1)[0].splitlines()
    by_stage = {s: [ln for ln in lines if ln.split(" ", 1)[0] == s] for s in _STAGES}
    assert [len(by_stage[s]) for s in ("read", "match", "report")] == [1, 1, 1], proc.stdout
    endpoints = [ln for ln in by_stage["deliver"] if "item(s):" in ln]
    assert sorted(ln.split()[1] for ln in endpoints) == ["arm.documents:", "arm.paymentreservations:"], proc.stdout
    assert lines == [by_stage["read"][0], by_stage["match"][0], *endpoints,  # one line per stage and endpoint,
                     *[ln for ln in by_stage["deliver"] if ln not in endpoints], by_stage["report"][0]], proc.stdout
    assert len(lines) == 3 + len(endpoints) + 1, proc.stdout  # never one per batch
    assert "4 file(s): 44 row(s), 43 valid, 1 rejected" in by_stage["read"][0]
    assert "23 confirmed" in next(ln for ln in endpoints if "arm.documents" in ln)
    assert LONG in proc.stdout  # full file names in the summary table


def test_quiet_says_only_the_result_and_verbose_says_more(tmp_path: Path, sandbox) -> None:
    config = write_config(tmp_path, sandbox.base_url)
    quiet = cli("run", "--quiet", "--config", str(config), "--bank", str(SAMPLE / "no"))
    assert quiet.returncode == 1, quiet.stdout + quiet.stderr
    assert quiet.stderr == ""
    assert [ln.split(":")[0] for ln in quiet.stdout.splitlines()] == [quiet.stdout.split(":")[0], "workbook"]
    assert quiet.stdout.startswith("run ")
    (tmp_path / "loud").mkdir()
    other = write_config(tmp_path / "loud", sandbox.base_url)  # a state of its own: every item goes out again
    loud = cli("-v", "run", "--config", str(other), "--bank", str(SAMPLE / "no"))
    assert loud.returncode == 1, loud.stdout + loud.stderr
    batches = [json.loads(ln) for ln in loud.stderr.splitlines() if ln.startswith("{")]
    assert batches and {b["event"] for b in batches} == {"delivery_batch"}
    assert "started (run)" in loud.stderr and "file(s):" in loud.stdout  # run log events, and the stages


def test_amili_unreachable_says_which_endpoint_and_why(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", http={"max_attempts": 1, "max_retry_time_s": 1})
    proc = cli("run", "--config", str(config), "--bank", str(SAMPLE / "no"))
    assert proc.returncode == 75, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("amili-etl: Amili unreachable: ") and "Connection refused" in last, last
    assert "on POST http://127.0.0.1:9/auth/token" in last and "nothing lost" in last, last
    run_dir = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir())
    events = [json.loads(ln) for ln in (run_dir / "log.jsonl").read_text().splitlines()]
    unreachable = [e for e in events if e["event"] == "amili_unreachable"]
    assert len(unreachable) == 1 and unreachable[0]["level"] == "error"
    assert "127.0.0.1:9/auth/token" in unreachable[0]["error"] and "Connection refused" in unreachable[0]["error"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"] == last.removeprefix("amili-etl: ")
    shown = cli("show", "--config", str(config), run_dir.name)
    assert "error     Amili unreachable: " in shown.stdout
    assert f"started   {format_time(None)}" not in shown.stdout and "Z\n" in shown.stdout  # UTC, to the second
    again = cli("rerun", "--only-failed", "--config", str(config), run_dir.name)
    assert again.returncode == 75, again.stdout + again.stderr
    last = again.stderr.strip().splitlines()[-1]
    assert last.startswith("amili-etl: Amili unreachable: ") and "127.0.0.1:9" in last, again.stderr


def test_a_terminal_sees_each_stage_as_it_starts_and_completed_in_place() -> None:
    out = io.StringIO()
    line = StageLine("match", out, tty=True)
    line.start("matching 25 payment(s) to open invoices")
    assert out.getvalue() == "match     matching 25 payment(s) to open invoices ..."  # shown at once, no newline
    line.done("24 of 25 payment(s) matched")
    assert out.getvalue().endswith("\r\x1b[Kmatch     24 of 25 payment(s) matched (0.0 s)\n")
    piped = io.StringIO()
    line = StageLine("match", piped, tty=False)
    line.start("matching")
    assert piped.getvalue() == ""  # piped: only the finished line
    line.done("done")
    assert piped.getvalue().count("\n") == 1


def test_times_are_utc_to_the_second() -> None:
    import datetime as dt

    assert format_time(dt.datetime(2026, 11, 20, 6, 15, 2, 123456)) == "2026-11-20 06:15:02Z"
    cet = dt.timezone(dt.timedelta(hours=1))
    assert format_time(dt.datetime(2026, 11, 20, 7, 15, 2, tzinfo=cet)) == "2026-11-20 06:15:02Z"
    assert format_time(None) == "-"


def test_an_error_after_a_stage_started_on_a_terminal_gets_a_line_of_its_own(monkeypatch) -> None:
    from etl import terminal

    out = io.StringIO()
    StageLine("read", out, tty=True).start("reading and validating 6 path(s)")
    terminal.end_open_line()  # what the CLI does before it prints the error
    assert out.getvalue() == "read      reading and validating 6 path(s) ...\n"
    terminal.end_open_line()  # nothing open any more: nothing written
    assert out.getvalue().count("\n") == 1
