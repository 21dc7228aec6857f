"""The run's outputs: discrepancies.csv, summary.json, discrepancies.xlsx and the rejects files."""

from etl.report.safe import escape_cell
from etl.report.tables import discrepancy_table, write_csv, write_summary
from etl.report.workbook import write_workbook
from etl.report.rejects import write_rejects

__all__ = ["escape_cell", "discrepancy_table", "write_csv", "write_summary", "write_workbook", "write_rejects"]
