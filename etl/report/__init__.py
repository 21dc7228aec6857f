"""The run's outputs: discrepancies.csv, summary.json, discrepancies.xlsx, Parquet and the rejects files."""

from etl.report.rejects import write_rejects
from etl.report.run_report import write_run_workbook
from etl.report.safe import escape_cell
from etl.report.tables import discrepancy_table, write_csv, write_summary
from etl.report.workbook import Sheet, write_workbook

__all__ = ["Sheet", "escape_cell", "discrepancy_table", "write_csv", "write_summary", "write_workbook", "write_rejects",
           "write_run_workbook"]
