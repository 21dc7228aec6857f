"""Automatic write-off: over- and underpayments below the creditor's `write_off_below`, resolved as `write_off`.

Each is recorded once in the resolutions table (resolved_by AUTO_WRITE_OFF_BY, no source file, state 'active',
amount = the difference), shown on the run workbook's "Written off" sheet and counted in summary.json, and is no
longer an open break (not in discrepancies.csv nor on a category sheet; month-end lists it as resolved).
The payment itself is delivered whole as before: the written-off difference is the invoice's rest (underpayment)
or the payer's extra (overpayment), never bank money, so the tie-out is unchanged (docs/month-end.md).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from etl.config import Config
from etl.reconcile.runner import break_key_expr, query_text
from etl.store import Store

__all__ = ["AUTO_WRITE_OFF_BY", "WRITTEN_OFF_COLUMNS", "write_off_small", "written_off_totals"]

AUTO_WRITE_OFF_BY = "amili-etl (automatic write-off)"

# The "Written off" sheet: the break as reported, then the resolution.
WRITTEN_OFF_COLUMNS = ("category", "break_key", "source_file", "source_line", "reference", "invoice_number",
                       "amount_minor", "currency", "expected_minor", "difference_minor", "action", "action_note",
                       "resolved_by", "resolved_at")

_RESOLUTION_COLUMNS = ("resolution_id", "break_key", "category", "action", "action_invoice", "action_note", "creditor",
                       "amount_minor", "currency", "resolved_by", "resolved_at", "source_file", "source_row", "state",
                       "api", "key")


def _limits(config: Config) -> tuple[list[str], list[str], list[int]]:
    """The creditors' write-off limits as parallel lists (creditor, currency or '*', minor units)."""
    rows = [(c.name, cur, limit) for c in config.creditors for cur, limit in c.write_off_below.items() if limit > 0]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def write_off_small(store: Store, config: Config, run_id: str, found: pl.DataFrame,
                    now: dt.datetime, dry_run: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split the run's discrepancies `found` into (open, written off); record the write-offs (once per break).

    `found` gains its `break_key`; the written-off frame has WRITTEN_OFF_COLUMNS, with who and when as recorded (a
    break written off by an earlier run keeps its first date)."""
    found = found.with_columns(break_key_expr()) if "break_key" not in found.columns else found
    empty = pl.DataFrame(schema={**{c: found.schema[c] for c in WRITTEN_OFF_COLUMNS if c in found.columns},
                                 "action": pl.String, "action_note": pl.String, "resolved_by": pl.String,
                                 "resolved_at": pl.Datetime("us")}).select(WRITTEN_OFF_COLUMNS)
    creditors, currencies, limits = _limits(config)
    if not creditors:
        return found, empty
    params = {"run_id": run_id, "creditors": creditors, "currencies": currencies, "limits": limits,
              "by": AUTO_WRITE_OFF_BY}
    cols = ", ".join(_RESOLUTION_COLUMNS)
    when = now.replace(tzinfo=None)  # the store keeps naive UTC
    if dry_run:  # a dry run shows what would be written off and records nothing
        done = store.frame(f"SELECT category, break_key, action, action_note, resolved_by, $now AS resolved_at "
                           f"FROM ({query_text('write_off')})", {**params, "now": when})
    else:
        with store.transaction():
            # OR IGNORE: a break written off before (a rerun, a later run) keeps its first record, who and when.
            store.execute(
                f"INSERT OR IGNORE INTO resolutions ({cols}) SELECT resolution_id, break_key, category, action, "
                f"action_invoice, action_note, creditor, amount_minor, currency, resolved_by, $now, NULL, NULL, "
                f"'active', NULL, NULL FROM ({query_text('write_off')})", {**params, "now": when})
        done = store.frame(
            f"SELECT r.category, r.break_key, r.action, r.action_note, r.resolved_by, r.resolved_at "
            f"FROM ({query_text('write_off')}) w JOIN resolutions r USING (resolution_id) WHERE r.state <> 'reopened'",
            params)
    if not done.height:
        return found, empty
    written = found.join(done, on=["category", "break_key"], how="inner", maintain_order="left")
    return (found.join(done.select("category", "break_key"), on=["category", "break_key"], how="anti",
                       maintain_order="left"),
            written.select(WRITTEN_OFF_COLUMNS))


def written_off_totals(written: pl.DataFrame) -> dict[str, object]:
    """summary.json's totals.written_off (how many) and written_off_amount ({currency: decimal string})."""
    from etl.money import format_minor

    sums = written.group_by("currency").agg(pl.col("difference_minor").sum()).sort("currency")
    return {"written_off": written.height,
            "written_off_amount": {str(cur): format_minor(int(v or 0)) for cur, v in sums.iter_rows()}}

