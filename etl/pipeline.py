"""The one orchestrator: read -> validate -> match -> plan -> submit -> reconcile -> report.

Each stage is a plain function over polars frames or DuckDB tables; this module only strings them together
and keeps the books: every input row ends up submitted, rejected with reasons, held back, or reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import fnmatch
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from etl import __version__
from etl.amili import APIS, DeliveryReport, deliver, dry_run_report, record_intents
from etl.config import Config, check_transport, insecure_tls_warning
from etl.errors import (EXIT_CLEAN, EXIT_DISCREPANCIES, EXIT_INPUT, EXIT_PARTIAL, EXIT_TEMPFAIL,
                        ConfigError, EtlError, InternalError)
from etl.history import already_imported, record_run_start, record_skipped, run_log_path
# read_inputs is part of this module's API
from etl.inputs import FileOutcome, read_inputs, rejected_rows, valid_lines  # noqa: F401
from etl.logs import log_event, run_log, secret_values
from etl.mapping import MappingSet, load_mappings
from etl.match import MATCHED_RULES
from etl.match.stage import match_run
from etl.money import format_minor
from etl.plan import plan_items
from etl.reconcile import CATEGORIES, control_summary, reconcile_run
from etl.reconcile.write_off import write_off_small, written_off_totals
from etl.reconcile.tie import tie_summary
from etl.refs import reference_valid_expr
from etl.report import write_csv, write_rejects, write_run_workbook, write_summary
from etl.sightings import mark_other_format_sightings
from etl.sources.base import INVOICE_SCHEMA, PAYMENT_SCHEMA
from etl.store import Store, open_store
from etl.terminal import stage

__all__ = ["NOTHING_NEW", "RunRequest", "RunResult", "FileOutcome", "nothing_new_message", "run_pipeline", "read_inputs",
           "new_run_id", "run_log_path"]


@dataclass(frozen=True)
class RunRequest:
    """What to run: the config, the input paths, where reports go, and the clock."""

    config: Config
    inputs: tuple[Path, ...]
    out_dir: Path
    run_id: str
    clock: Callable[[], dt.datetime]
    dry_run: bool = False
    mode: str = "run"
    force: bool = False  # read files an earlier run imported (nothing is sent twice either way)
    rerun_of: str | None = None


@dataclass
class RunResult:
    """What a run produced: its folder, summary, discrepancies and exit code."""

    run_id: str
    run_dir: Path
    summary: dict[str, Any]
    discrepancies: pl.DataFrame
    exit_code: int
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    planned: dict[str, int] = field(default_factory=dict)
    would_send: list[str] = field(default_factory=list)  # --dry-run: per endpoint, what would be sent


def new_run_id(now: dt.datetime, salt: str) -> str:
    """A sortable run id: UTC timestamp plus 4 hex characters so two runs in one second never collide."""
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + salt[:4]


def _invoice_creditor(config: Config, display: str) -> str:
    """Which creditor an invoice file belongs to: the one whose invoice_files pattern matches its name."""
    name = Path(display).name
    owners = [c.name for c in config.creditors if any(fnmatch.fnmatch(name, p) for p in c.invoice_files)]
    if len(owners) == 1:
        return owners[0]
    if not owners and len(config.creditors) == 1:
        return config.creditors[0].name
    if owners:
        raise ConfigError(f"{display}: invoice file matches the invoice_files of several creditors: {', '.join(owners)}")
    raise ConfigError(f"{display}: no creditor's invoice_files pattern matches this invoice file")


def _payments_frame(config: Config, files: list[FileOutcome], run_id: str) -> pl.DataFrame:
    """All payment rows of the run with creditor, reference validity and the held-back flag."""
    frames = [
        f.valid.with_columns(pl.lit(f.status == "held_back").alias("held_back"))
        for f in files
        if f.result.kind == "payments" and f.valid.height
    ]
    if not frames:
        return pl.DataFrame(schema={**PAYMENT_SCHEMA, "held_back": pl.Boolean(), "creditor": pl.String(),
                                    "reference_valid": pl.Boolean(), "run_id": pl.String(), "payment_no": pl.Int64()})
    pays = pl.concat(frames, how="vertical_relaxed").with_row_index("_order")
    owners = pl.DataFrame(
        {"account": [a for c in config.creditors for a in c.accounts],
         "creditor": [c.name for c in config.creditors for _ in c.accounts]},
        schema={"account": pl.String, "creditor": pl.String},
    )
    # The key config.account_key makes of a creditor's accounts: a Norwegian IBAN is its 11-digit account.
    account = pl.col("account").str.replace(r"^NO\d{2}(\d{11})$", "$1").str.strip_chars_start("0")
    pays = pays.with_columns(account).join(owners, on="account", how="left")
    check = pl.lit(None, dtype=pl.Boolean)
    for c in config.creditors:
        check = pl.when(pl.col("creditor") == c.name).then(reference_valid_expr("reference", c.reference_check)).otherwise(check)
    # payment_no: the payment's position in the run, the integer the reconciliation joins matches to payments on.
    return pays.with_columns(check.alias("reference_valid"), pl.lit(run_id).alias("run_id"),
                             pl.col("_order").cast(pl.Int64).alias("payment_no")).sort("_order").drop("_order")


def _mark_duplicates(store: Store, pays: pl.DataFrame, run_id: str, remember: bool = True) -> pl.DataFrame:
    """Set duplicate_of for every sighting after the first of a payment key, in this run or an earlier one.

    `remember=False` (a dry run) leaves payment_origins alone: a payment a dry run read was not imported, so the
    real run that reads it later, from whichever export, sees its first sighting. Likewise a sighting by a run that
    did no work (it failed before anything went out to Amili: a missing secret, say) is no first sighting: its files
    count as not imported, and the payment's next sighting takes its place.
    """
    from etl.reconcile.period import create_work_runs_view

    create_work_runs_view(store)
    pays = pays.with_columns(
        (pl.col("source_file") + ":" + pl.col("source_line").cast(pl.String)).alias("_where"),
    )
    live = pl.col("held_back").not_()
    first_here = (
        pays.filter(live)
        .group_by("payment_key", maintain_order=True)
        .agg(pl.col("_where").first().alias("_first"))
    )
    earlier = store.frame("SELECT payment_key, source_file, source_sha256, source_line FROM payment_origins "
                          "WHERE first_run_id NOT IN (SELECT run_id FROM runs EXCEPT SELECT run_id FROM work_runs)")
    earlier = earlier.select(
        "payment_key",
        (pl.col("source_file") + ":" + pl.col("source_line").cast(pl.String)).alias("_origin"),
        pl.col("source_sha256").alias("_origin_sha"),
        pl.col("source_line").alias("_origin_line"),
    )
    pays = pays.join(first_here, on="payment_key", how="left").join(earlier, on="payment_key", how="left")
    # The same file and line seen again (a rerun of the same file) is the same sighting, not a duplicate.
    same_as_origin = (pl.col("source_sha256") == pl.col("_origin_sha")) & (pl.col("source_line") == pl.col("_origin_line"))
    dup = (
        pl.when(~live).then(None)
        .when(pl.col("_origin").is_not_null() & ~same_as_origin).then(pl.col("_origin"))
        .when(pl.col("_origin").is_null() & (pl.col("_where") != pl.col("_first"))).then(pl.col("_first"))
    )
    pays = pays.with_columns(dup.alias("duplicate_of"))
    new_origins = pays.filter(live & pl.col("_origin").is_null() & (pl.col("_where") == pl.col("_first"))).select(
        "payment_key", "source_file", "source_sha256", "source_line", pl.lit(run_id).alias("first_run_id")
    )
    if remember and new_origins.height:
        store.con.register("_new_origins", new_origins)
        try:  # a key left by a run that did no work: replaced by this first sighting
            store.execute("DELETE FROM payment_origins WHERE payment_key IN (SELECT payment_key FROM _new_origins)")
        finally:
            store.con.unregister("_new_origins")
        store.insert_frame("payment_origins", new_origins)
    return pays.drop("_where", "_first", "_origin", "_origin_sha", "_origin_line")


def _file_rows(run_id: str, files: list[FileOutcome]) -> pl.DataFrame:
    """The files table rows of this run."""
    rows = []
    for f in files:
        r = f.result
        amount = f.valid.get_column("amount_minor").sum() if f.valid.height else None
        currencies = f.valid.get_column("currency").unique().to_list() if f.valid.height else []
        rows.append({
            "run_id": run_id, "path": f.display, "sha256": r.sha256, "format": r.format, "layout": r.layout,
            "kind": r.kind, "creditor": f.creditor, "status": f.status, "message": r.message or None,
            "rows": r.rows.height, "valid": f.valid.height,
            "rejected": f.rejects.get_column("source_line").n_unique() if f.rejects.height else 0,
            "total_minor": amount, "currency": currencies[0] if len(currencies) == 1 else None,
            "declared_total_minor": r.control.get("declared_total_minor"),
            "computed_total_minor": r.control.get("computed_total_minor"),
        })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _balance_rows(run_id: str, files: list[FileOutcome]) -> pl.DataFrame:
    """The statement balances the bank files of this run declare (camt.053, MT940), for month-end reconciliation."""
    frames = [
        f.result.balances.with_columns(run_id=pl.lit(run_id), source_file=pl.lit(f.display),
                                       source_sha256=pl.lit(f.result.sha256))
        for f in files if f.result.balances.height
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _exit_code(files: list[FileOutcome], found: pl.DataFrame, report: DeliveryReport, deliverable: int) -> int:
    """The contract's exit code: tempfail > partial > incomplete input > discrepancies > clean."""
    if report.unavailable and len(report.unavailable) >= deliverable > 0:
        return EXIT_TEMPFAIL
    if report.unavailable or sum(report.pending.values()):
        return EXIT_PARTIAL
    if any(f.status in ("held_back", "unreadable", "unrecognised") for f in files) or not files:
        return EXIT_INPUT
    if any(f.result.kind != "unknown" and f.result.rows.height == 0 for f in files):
        return EXIT_INPUT  # an empty source means the run cannot be complete
    if found.height:
        return EXIT_DISCREPANCIES
    return EXIT_CLEAN


_STATUS = {EXIT_CLEAN: "clean", EXIT_DISCREPANCIES: "discrepancies", EXIT_INPUT: "incomplete",
           EXIT_PARTIAL: "incomplete", EXIT_TEMPFAIL: "failed"}
# Every input was imported by an earlier run: nothing read, nothing sent, exit 0 (docs/cron.md).
NOTHING_NEW = "nothing_new"


def nothing_new_message(skipped: list[dict[str, Any]]) -> str:
    """The one line of a run that read nothing new: how many files, imported by which run(s)."""
    runs = sorted({s["run_id"] for s in skipped})
    by = f"run {runs[0]}" if len(runs) == 1 else f"runs {', '.join(runs)}"
    return (f"nothing new: {len(skipped)} file(s) already imported by {by}; nothing was read or sent "
            "(--force reads them again)")


def _money_by_currency(frame: pl.DataFrame) -> dict[str, str]:
    if frame.height == 0:
        return {}
    sums = frame.group_by("currency").agg(pl.col("amount_minor").sum()).sort("currency")
    return {cur: format_minor(int(v)) for cur, v in sums.iter_rows()}


def run_pipeline(req: RunRequest) -> RunResult:
    """Run every stage for `req` and write `<out>/<run_id>/`; returns the result with its exit code.

    Refuses plain http to a remote host before anything starts (exit 2). Takes the state's lock (waiting [inbox]
    lock_wait_s for another run, then exit 75). A failure of the machine (a corrupt or truncated state file, a full
    disk, the state file deleted or replaced during the run) is one line naming the path, exit 70; the run is
    recorded `failed` with the reason where the state is still writable, and no temporary file is left.
    """
    from etl.lock import state_lock

    config = req.config
    check_transport(config)
    run_dir = req.out_dir / req.run_id
    try:
        with state_lock(config.state_path, config.inbox.lock_wait_s):
            return _run_locked(req, config, run_dir)
    except EtlError:
        raise
    except Exception as exc:  # noqa: BLE001 - the machine failed us (before the run could be recorded)
        err = machine_failure(exc, config.state_path, run_dir)
        if err is None:
            raise
        remove_partial_outputs(run_dir)
        raise err from None


def _run_locked(req: RunRequest, config: Config, run_dir: Path) -> RunResult:
    mappings = load_mappings(list(config.mapping_dirs))
    log_path = run_log_path(config, run_dir, req.run_id)
    with open_store(config.state_path) as store, run_log(log_path, req.run_id, secret_values(config), config.log_level):
        started = req.clock()
        with store.transaction():
            store.execute(
                "INSERT INTO runs (run_id, started_at, mode, status, config_path, out_dir) VALUES (?, ?, ?, 'running', ?, ?)",
                [req.run_id, started.replace(tzinfo=None), req.mode, str(config.path), str(run_dir)],
            )
            record_run_start(store, req.run_id, req.inputs, req.force, req.rerun_of, log_path)
        log_event("run_started", f"run {req.run_id} started ({req.mode})", mode=req.mode, force=req.force,
                  rerun_of=req.rerun_of, inputs=[str(p) for p in req.inputs], state=str(config.state_path))
        if (warning := insecure_tls_warning(config)):
            log_event("insecure_tls", warning, logging.WARNING)
            print(f"amili-etl: {warning}", file=sys.stderr)
        try:
            result = _stages(store, req, config, mappings, run_dir)
            store.check_in_place()  # the file we recorded the run in is still the state file
        except Exception as exc:  # noqa: BLE001 - a known failure, or the machine failing us: exit 70
            err = exc if isinstance(exc, EtlError) else machine_failure(exc, config.state_path, run_dir)
            if err is None:  # a bug: logged, the run stays 'running' and is marked interrupted later
                log_event("run_crashed", f"run {req.run_id} stopped: {type(exc).__name__}", logging.ERROR)
                raise
            remove_partial_outputs(run_dir)
            record_failed(store, req.run_id, err, req.clock())
            log_event("run_failed", str(err), logging.ERROR, exit_code=err.exit_code)
            if err is exc:
                raise
            raise err from None
        except BaseException as exc:  # Ctrl-C: logged, the run stays 'running' and is marked interrupted later
            log_event("run_crashed", f"run {req.run_id} stopped: {type(exc).__name__}", logging.ERROR)
            raise
        log_event("run_finished", f"run {req.run_id}: {result.summary['status']} (exit {result.exit_code})",
                  status=result.summary["status"], exit_code=result.exit_code, counts=result.summary["counts"],
                  sent=result.summary["sent"], skipped=len(result.summary.get("skipped", [])))
        return result


# What a failed run must not leave behind: the temporary files of atomic writes, and summary.json (written last,
# it says the run finished).
_PARTIAL_PATTERNS = ("*.tmp", "*.tmp.xlsx", "*.splice", "*.partial", "rejects/*.tmp")


def remove_partial_outputs(run_dir: Path) -> None:
    """Delete every temporary file of `run_dir` (and its summary.json): nothing half-written stays behind."""
    if not run_dir.is_dir():
        return
    for pattern in (*_PARTIAL_PATTERNS, "summary.json"):
        for p in run_dir.glob(pattern):
            try:
                p.unlink()
            except OSError:
                pass


def machine_failure(exc: BaseException, state_path: Path, run_dir: Path) -> EtlError | None:
    """The one-line InternalError (70) or StateLockedError (75) for a failure of the disk or the database; None
    for anything else (a bug: its traceback is wanted)."""
    import duckdb

    from etl.store.db import state_failure

    if isinstance(exc, duckdb.Error):
        return state_failure(state_path, exc)
    inner = exc
    if not isinstance(inner, OSError) and inner.args and isinstance(inner.args[0], OSError):
        inner = inner.args[0]  # xlsxwriter's FileCreateError wraps the OSError
    if not isinstance(inner, OSError):
        text = str(exc)
        if "os error 28" in text or "No space left" in text or "File too large" in text:  # polars' IO errors
            return InternalError(f"{run_dir}: cannot write the run's reports: the disk is full ({text.splitlines()[0]}); "
                                 "the run is recorded failed; free space and rerun")
        return None
    where = Path(os.fsdecode(inner.filename)) if isinstance(inner.filename, (str, bytes, os.PathLike)) else run_dir
    if where.name.startswith(state_path.name) and where.absolute().parent == state_path.absolute().parent:
        return state_failure(state_path, inner)  # the state file, its WAL or its lock
    why = inner.strerror or str(inner)
    if inner.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or any(
            m in str(inner) for m in ("os error 28", "os error 27", "No space left", "File too large")):
        return InternalError(f"{where}: cannot write: the disk is full ({why}); the run is recorded failed and "
                             "nothing half-written is kept; free space, then rerun")
    return InternalError(f"{where}: cannot write: {why}; the run is recorded failed; fix it, then rerun")


def record_failed(store: Store, run_id: str, err: EtlError, now: dt.datetime) -> None:
    """Mark the run failed with its exit code and the reason (in its summary), if the state can still be written."""
    import duckdb

    try:
        store.check_in_place()
        store.execute("UPDATE runs SET finished_at = ?, status = 'failed', exit_code = ?, summary = ? WHERE run_id = ?",
                      [now.replace(tzinfo=None), err.exit_code,
                       json.dumps({"run_id": run_id, "status": "failed", "error": str(err)}), run_id])
    except (duckdb.Error, OSError, EtlError):
        pass  # the state itself is what failed: the one line on stderr (and the log) says so


def _stages(store: Store, req: RunRequest, config: Config, mappings: MappingSet, run_dir: Path) -> RunResult:
    """Every stage in order, inside an open store; the caller marks the run failed on a known error."""
    skipped = [] if req.force else already_imported(store, req.inputs)
    for s in skipped:
        log_event("file_skipped", f"{s['path']}: already imported by run {s['run_id']}; skipped (--force reads it again)",
                  **s)
    record_skipped(store, req.run_id, skipped)
    shown = stage("read", f"reading and validating {len(req.inputs)} path(s)")
    files = read_inputs(req.inputs, mappings, frozenset(Path(s["path"]) for s in skipped), config)
    shown.done(_read_counts(files))
    for f in files:
        log_event("file_read", f"{f.display}: {f.result.format or '-'} {f.status}", path=f.display,
                  sha256=f.result.sha256, format=f.result.format, status=f.status, rows=f.result.rows.height,
                  valid=f.valid.height, message=f.result.message or None)
    for f in files:
        if f.result.kind == "invoices" and f.status not in ("unreadable", "unrecognised"):
            try:
                f.creditor = _invoice_creditor(config, f.file_name)
            except ConfigError as exc:
                # One invoice file no creditor claims must not stop the night: held back with the reason, nothing
                # of it sent (the inbox puts it in failed/); the other files go on.
                f.result = dataclasses.replace(f.result, status="held_back", message=f"held back: {exc}")
    pays = _payments_frame(config, files, req.run_id)
    with store.transaction():
        store.insert_frame("files", _file_rows(req.run_id, files))
        store.insert_frame("statement_balances", _balance_rows(req.run_id, files))
        rejects = [
            f.rejects.with_columns(pl.lit(req.run_id).alias("run_id"), pl.lit(f.display).alias("source_file"))
            for f in files if f.rejects.height
        ]
        if rejects:
            store.insert_frame("rejects", pl.concat(rejects, how="vertical_relaxed").select(
                "run_id", "source_file", "source_line", "error_column", "error_check", "error_message"))
            store.insert_frame("rejected_rows", pl.concat([
                rejected_rows(f).with_columns(pl.lit(req.run_id).alias("run_id"), pl.lit(f.display).alias("source_file"))
                for f in files if f.rejects.height], how="vertical_relaxed"))
        pays = mark_other_format_sightings(store, _mark_duplicates(store, pays, req.run_id, remember=not req.dry_run),
                                           req.run_id)
        store.insert_frame("payments", pays.select(
            "run_id", "payment_no", "payment_key", "source_file", "source_sha256", "source_line", "source_sheet", "format",
            "creditor", "account", "booking_date", "amount_minor", "currency", "reference", "reference_valid",
            "message", "payer_name", "payer_account", "bank_ref", "held_back", "duplicate_of", "extra_references",
            "extra_reference_amounts"))
        invoices = [
            f.valid.with_columns(pl.lit(f.creditor).alias("creditor"), pl.lit(req.run_id).alias("run_id"))
            for f in files if f.result.kind == "invoices" and f.valid.height and f.status != "held_back"
        ]
        inv = pl.concat(invoices, how="vertical_relaxed") if invoices else pl.DataFrame(
            schema={**INVOICE_SCHEMA, "creditor": pl.String(), "run_id": pl.String()})
        store.insert_frame("invoices", inv.drop("format"))
        lines = valid_lines(files, req.run_id)
        store.insert_frame("invoice_lines", lines)  # documentLines for ARM documents

    candidates = pays.filter(
        pl.col("duplicate_of").is_null() & ~pl.col("held_back") & pl.col("creditor").is_not_null()
        & (pl.col("amount_minor") > 0)
    )
    shown = stage("match", f"matching {candidates.height} payment(s) to open invoices")
    matches = match_run(store, config, req.run_id, candidates)
    shown.done(f"{matches.filter(pl.col('rule').is_in(MATCHED_RULES)).height} of {candidates.height} payment(s) matched")
    # The route decision (target, route_reason) is made in matching; a payment without a target is not sent.
    to_send = candidates.join(matches.select("payment_key", "rule", "invoice_number", "invoice_numbers",
                                             "invoice_currency", "target", "route_reason", "_multi", "_split_refs"),
                              on="payment_key").filter(pl.col("target").is_not_null())
    planned = plan_items(config, inv, to_send, lines)
    items = record_intents(store, req.run_id, planned, req.clock().replace(tzinfo=None), dry_run=req.dry_run)
    deliverable = items.filter(pl.col("action") == "deliver")
    plan_counts = {api: int(n) for api, n in deliverable.group_by("api").len().iter_rows()}
    report = DeliveryReport()
    shown = stage("deliver", f"{deliverable.height} item(s) to {len(plan_counts)} endpoint(s)"
                  + (" (dry run: nothing is sent)" if req.dry_run else ""))
    if not req.dry_run:
        shown.interrupt()  # the endpoints' progress follows
        report = deliver(store, config, req.run_id, deliverable, lambda: req.clock().replace(tzinfo=None))
    shown.done(f"sent {sum(report.sent.values())} of {deliverable.height} item(s)")

    shown = stage("report", f"reconciling and writing {run_dir}")
    # Small over- and underpayments are written off (recorded, shown on their own sheet) before anything is reported.
    found, written_off = write_off_small(store, config, req.run_id, reconcile_run(store, req.run_id), req.clock(),
                                         dry_run=req.dry_run)
    exit_code = _exit_code(files, found, report, deliverable.height)
    if not files and skipped:
        exit_code = EXIT_CLEAN  # everything given was imported before: nothing to do is not an error
    summary = _summary(req, files, pays, matches, found, report, plan_counts, exit_code)
    summary["totals"]["control"] = control_summary(store, req.run_id)
    summary["totals"]["tie"] = tie_summary(store, req.run_id)
    summary["totals"].update(written_off_totals(written_off))
    summary["skipped"] = skipped
    report.note_unreachable(summary)  # the reason, not only the count: in the log, the summary, the last line
    if not files and skipped:
        # Yesterday's files seen again (a cron rerun, a rerun by hand): safe and not an error, but not a checked run.
        summary["status"], summary["message"] = NOTHING_NEW, nothing_new_message(skipped)
        log_event("nothing_new", summary["message"], files=len(skipped))
    log_event("delivered", "delivery: " + (", ".join(f"{api} sent {n}" for api, n in summary["sent"].items() if n)
                                           or "nothing sent"), planned=plan_counts, **{
                  k: summary["totals"][k] for k in ("confirmed", "rejected", "pending")})
    _write_outputs(store, req, run_dir, files, summary, found, written_off, config)
    store.check_in_place()
    store.execute(
        "UPDATE runs SET finished_at = ?, status = ?, exit_code = ?, summary = ? WHERE run_id = ?",
        [req.clock().replace(tzinfo=None), summary["status"], exit_code, json.dumps(summary), req.run_id],
    )
    shown.done(f"{found.height} discrepancy row(s)")
    return RunResult(req.run_id, run_dir, summary, found, exit_code, report, plan_counts,
                     dry_run_report(config, deliverable) if req.dry_run else [])


def _read_counts(files: list[FileOutcome]) -> str:
    """The read stage's line: files, rows, valid, rejected, and files not taken."""
    rows = sum(f.result.rows.height for f in files)
    valid = sum(f.valid.height for f in files)
    rejected = sum(f.rejects.get_column("source_line").n_unique() for f in files if f.rejects.height)
    not_taken = sum(f.status in ("held_back", "unreadable", "unrecognised") for f in files)
    return (f"{len(files)} file(s): {rows} row(s), {valid} valid, {rejected} rejected"
            + (f"; {not_taken} file(s) held back or not readable" if not_taken else ""))


def _summary(req: RunRequest, files: list[FileOutcome], pays: pl.DataFrame, matches: pl.DataFrame,
             found: pl.DataFrame, report: DeliveryReport, planned: dict[str, int], exit_code: int) -> dict[str, Any]:
    """summary.json per the contract, with totals that tie: every row is accounted for once."""
    counts = {c: int(n) for c, n in found.group_by("category").len().iter_rows()}
    live = pays.filter(~pl.col("held_back"))
    incoming = live.filter(pl.col("amount_minor") > 0)
    matched = matches.filter(pl.col("rule").is_in(MATCHED_RULES))
    rows_read = sum(f.result.rows.height for f in files)
    rejected = sum(f.rejects.get_column("source_line").n_unique() for f in files if f.rejects.height)
    return {
        "run_id": req.run_id,
        "status": _STATUS[exit_code],
        "counts": {c: counts[c] for c in CATEGORIES if c in counts},
        "files": [
            {"path": f.display, "sha256": f.result.sha256, "format": f.result.format, "status": f.status,
             "rows": f.result.rows.height, "valid": f.valid.height,
             "rejected": f.rejects.get_column("source_line").n_unique() if f.rejects.height else 0,
             "message": f.result.message}
            for f in files
        ],
        "totals": {
            "rows_read": rows_read,
            "rows_rejected": rejected,
            "rows_held_back": int(pays.filter(pl.col("held_back")).height),
            "payments": int(live.height),
            "payments_outgoing": int(live.filter(pl.col("amount_minor") < 0).height),
            "payments_incoming": int(incoming.height),
            "payments_duplicate": int(incoming.filter(pl.col("duplicate_of").is_not_null()).height),
            "payments_matched": int(matched.height),
            "payments_unmatched": int(matches.height - matched.height),
            "incoming_amount": _money_by_currency(incoming.filter(pl.col("duplicate_of").is_null())),
            "planned": planned,
            "confirmed": dict(report.confirmed),
            "rejected": dict(report.rejected),
            "pending": dict(report.pending),
        },
        "sent": {api: int(report.sent.get(api, 0)) for api in APIS},
    }


def _write_outputs(store: Store, req: RunRequest, run_dir: Path, files: list[FileOutcome], summary: dict[str, Any],
                   found: pl.DataFrame, written_off: pl.DataFrame, config: Config) -> None:
    """The run folder: rejects/, discrepancies.csv, discrepancies.xlsx, summary.json (written last)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.rejects.height and f.result.raw.height:
            write_rejects(f.result.raw, f.rejects, run_dir / "rejects", f.display)
    write_csv(found, run_dir / "discrepancies.csv")
    facts = {"run_id": req.run_id, "mode": req.mode, "amili-etl version": __version__, "config": str(config.path),
             "state": str(config.state_path), "dry_run": req.dry_run}
    write_run_workbook(store, req.run_id, run_dir, summary, found, config, facts, written_off)
    write_summary(summary, run_dir / "summary.json")
