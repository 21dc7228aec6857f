"""Sniff a file's format by its content, never its name: fixed-width start records, zip magic, header rows."""

from __future__ import annotations

import codecs
import re

from etl.mapping import Layout, MappingSet
from etl.sources.tables import find_header, find_xlsx_layout, is_xlsx, layout_cells
from etl.sources.text import decode_head, head_lines

__all__ = ["detect_format", "TABLE_FORMATS"]

# (layout kind, container) -> format name
TABLE_FORMATS = {
    ("bank", "csv"): "bank_csv",
    ("bank", "xlsx"): "bank_xlsx",
    ("invoices", "csv"): "invoices_csv",
    ("invoices", "xlsx"): "invoices_xlsx",
}
_SNIFF = 4096
_CAMT = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.(053|054)")
_MT940 = re.compile(rb"(?m)^:20:.*\r?\n(?:.*\r?\n){0,3}?:25:")


def detect_format(data: bytes, mappings: MappingSet) -> tuple[str, Layout | None] | None:
    """(format, layout) by content; layout is None for fixed formats; None when the file is not recognised."""
    head = data[:_SNIFF].removeprefix(codecs.BOM_UTF8)
    # Nets OCR giro: start-of-transmission record, service 00, record type 10 (80-character records).
    if head.startswith(b"NY000010"):
        return "ocr_giro", None
    # Bankgirot BgMax: TK01 with the layout name in positions 3-7.
    if head.startswith(b"01BGMAX"):
        return "bgmax", None
    if is_xlsx(data):
        found = find_xlsx_layout(data, list(mappings))
        return (TABLE_FORMATS[(found[2].kind, "xlsx")], found[2]) if found else None
    # ISO 20022 camt.053 / camt.054 by their namespace (any version), SWIFT MT940 by :20: followed by :25:.
    if m := _CAMT.search(head):
        return f"camt{m.group(1).decode()}", None
    if _MT940.search(head):
        return "mt940", None
    if b"\x00" in head:  # binary (or UTF-16): not a text table
        return None
    lines = head_lines(decode_head(data))
    found = find_header(len(lines), lambda i, lay: layout_cells(lines[i], lay), mappings)
    return (TABLE_FORMATS[(found[1].kind, "csv")], found[1]) if found else None
