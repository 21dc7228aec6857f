"""Hostile workbooks built in a test's tmp folder (issue 14): real zip files, written with zipfile."""

from __future__ import annotations

import zipfile
from pathlib import Path

_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/'
       'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
       'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
       'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
       'spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats'
         '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
         'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/'
       'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
       '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '</Relationships>')
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def workbook(path: Path, sheet_data: str, *, dimension: str | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """A one-sheet .xlsx whose sheet XML has `sheet_data` inside <sheetData>."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>{dim}<sheetData>{sheet_data}</sheetData></worksheet>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def far_cell(path: Path, ref: str = "XFD1048576") -> Path:
    """The 1.5 KB workbook of issue 14: one text cell at A1 and one number at `ref`."""
    row = int("".join(ch for ch in ref if ch.isdigit()))
    return workbook(path, f'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
                          f'<row r="{row}"><c r="{ref}"><v>1</v></c></row>')


def zip_bomb(path: Path, inflated_mb: int) -> Path:
    """A workbook with a member of `inflated_mb` MB of zeros (deflate packs it about 1000 to 1)."""
    far = workbook(path, '<row r="1"><c r="A1"><v>1</v></c></row>')
    with zipfile.ZipFile(far, "a", zipfile.ZIP_DEFLATED) as z:
        with z.open("xl/media/padding.bin", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(inflated_mb):
                member.write(block)
    return path
