"""The run's outputs: discrepancies.csv, summary.json, discrepancies.xlsx, Parquet and the rejects files.

The names below are imported from their modules on first use (PEP 562): `validate` writes only rejects files
and need not import the workbook writers (0.3-0.5 s of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl.report.rejects import write_rejects
    from etl.report.run_report import write_run_workbook
    from etl.report.safe import escape_cell
    from etl.report.tables import discrepancy_table, write_csv, write_summary
    from etl.report.workbook import Sheet, write_workbook

# name -> the module that defines it
_HOME = {
    "write_rejects": "etl.report.rejects",
    "write_run_workbook": "etl.report.run_report",
    "escape_cell": "etl.report.safe",
    "discrepancy_table": "etl.report.tables",
    "write_csv": "etl.report.tables",
    "write_summary": "etl.report.tables",
    "Sheet": "etl.report.workbook",
    "write_workbook": "etl.report.workbook",
}

__all__ = ["Sheet", "escape_cell", "discrepancy_table", "write_csv", "write_summary", "write_workbook", "write_rejects",
           "write_run_workbook"]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
