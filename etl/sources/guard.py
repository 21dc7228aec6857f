"""Guards run on a workbook's bytes before any spreadsheet reader sees them (issue 14: poison files).

calamine (behind fastexcel / polars.read_excel) allocates a sheet's whole used range at once, densely: one cell
at XFD1048576 asks for 512 GiB and the process aborts; a zip member that inflates to gigabytes is inflated in
memory. So, before a workbook is read, with the standard library only and in bounded memory:

- .xlsx / .xlsm (a zip): every member's declared uncompressed size, the total, and its compression ratio are
  checked against ReadLimits; then every member is inflated as a stream (1 MB at a time, never whole) to
  find the cells it really holds: zipfile stops at the declared size and checks the CRC, so a member that
  lies about its size is refused too;
- every worksheet's used range (its `<dimension ref=...>` and the real cell references `r="XFD1048576"`,
  counting cells without a reference by position) must stay within the column and cell bounds;
- legacy .xls (BIFF8): the DIMENSIONS records of its sheets are checked against the same bounds.

A refusal is a GuardError (a SourceError): read_source turns it into status `unreadable` (exit 3) with one line
naming the file and the limit. The limits are documented in docs/formats.md ("Limits") and set in
`[reading]` (docs/configuration.md).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass

from etl.limits import ReadLimits
from etl.sources.common import SourceError, column_letters

__all__ = ["ReadLimits", "GuardError", "check_workbook", "sheet_extent", "is_workbook_bytes", "OLE2_MAGIC"]

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MB = 1024 * 1024
_CHUNK = 1 * _MB


class GuardError(SourceError):
    """A workbook refused before reading: it would take more memory than the limits allow."""


def is_workbook_bytes(data: bytes) -> bool:
    """A zip (.xlsx/.xlsm/...) or an OLE2 compound file (.xls): what the guards look at."""
    return data.startswith((b"PK", OLE2_MAGIC))


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _mb(n: float) -> str:
    return f"{n / _MB:,.1f} MB" if n < 1024 * _MB else f"{n / 1024 / _MB:,.1f} GB"


_ROW_R = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="([0-9]{1,9})"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\sref="([A-Z]{1,3})?([0-9]{1,9})?(?::([A-Z]{1,3})([0-9]{1,9}))?"')


@dataclass
class _Extent:
    rows: int = 0  # last used row (1-based)
    cols: int = 0  # last used column (1-based)
    dim_rows: int = 0  # as the <dimension> says
    dim_cols: int = 0
    cells: int = 0  # <c> elements
    refs: int = 0  # <c> elements with an r="..." reference
    row_tags: int = 0
    row_r: int = 0  # the greatest <row r="..."> (used only when some cells have no reference)
    max_cells_in_row: int = 0  # only counted when some cells have no reference
    prefixed: bool = False  # the sheet's elements have a namespace prefix (<x:c>)


def _tables() -> tuple:
    import numpy as np

    sep = np.zeros(256, dtype=bool)
    sep[[0x20, 0x09, 0x0A, 0x0D, 0x2F, 0x3E]] = True  # space, tab, LF, CR, '/', '>'
    cls = np.zeros(256, dtype=np.uint8)
    cls[65:91], cls[48:58] = 1, 2
    return sep, cls


_SEP, _CLASS = _tables()


def _scan_chunk(buf: bytes, ext: _Extent) -> None:
    """Fold one piece of sheet XML (cut after a '>') into `ext`: every `r="<letters><digits>"` attribute value
    (a cell reference; a <row r="5"> has digits only) gives a column and a row; every `<c` tag is a cell.
    Vectorised with numpy (about 5 ms per MB): Python's re needs 0.2 s per pattern per 28 MB of sheet XML."""
    import numpy as np

    n = len(buf)
    if n < 4:
        return
    a = np.frombuffer(buf + bytes(16), dtype=np.uint8)  # padded: a reference at the very end is read whole
    # Cells: '<' (or ':' in a sheet written with a prefix, <x:c>) + 'c' + a space, tab, newline, '/' or '>'.
    tag = np.flatnonzero(a == (0x3A if ext.prefixed else 0x3C))
    tag = tag[tag + 2 < n]
    ext.cells += int(np.count_nonzero((a[tag + 1] == 0x63) & _SEP[a[tag + 2]]))
    eq = np.flatnonzero(a == 0x3D)  # '='
    eq = eq[(eq >= 1) & (eq + 1 < n)]
    pos = eq[(a[eq - 1] == 0x72) & (a[eq + 1] == 0x22)] + 2  # the value of an r="..." attribute
    if not pos.size:
        return
    width = np.arange(13)
    g = a[pos[:, None] + width]
    n_letters = np.argmin((g >= 65) & (g <= 90), axis=1)
    not_digit = (g < 48) | (g > 57)
    not_digit[width[None, :] < n_letters[:, None]] = False
    n_digits = np.argmax(not_digit, axis=1) - n_letters  # the digits after the letters, up to the closing quote
    is_ref = (n_letters >= 1) & (n_digits >= 1)
    if (is_ref & (n_letters > 3)).any():  # four letters or more: beyond XFD, impossible in a real workbook
        ext.cols = max(ext.cols, 16385)
    ok = is_ref & (n_letters <= 3)
    if not ok.any():
        return
    if (ok & (n_digits > 9)).any():  # ten digits: no real row
        ext.rows = max(ext.rows, 10**9)
    ok &= n_digits <= 9
    ext.refs += int(np.count_nonzero(ok))
    # The greatest column is among the references with the most letters, the greatest row among those with
    # the most digits: only those are turned into numbers.
    most = int(n_letters[ok].max())
    letters = g[ok & (n_letters == most), :most].astype(np.int64) - 64
    ext.cols = max(ext.cols, int((letters @ (26 ** np.arange(most - 1, -1, -1))).max()))
    most = int(n_digits[ok].max())
    sel = ok & (n_digits == most)
    at = n_letters[sel][:, None] + np.arange(most)
    digits = np.take_along_axis(g[sel], at, axis=1).astype(np.int64) - 48
    ext.rows = max(ext.rows, int((digits @ (10 ** np.arange(most - 1, -1, -1))).max()))


def _by_position(stream: io.BufferedIOBase, ext: _Extent) -> None:
    """A second, slower pass for sheets with cells without r="..." (such a cell takes the next column, a row
    without r the next row): the most cells in one row, the rows, the greatest row number."""
    widest, current, carry = 0, 0, b""
    while chunk := stream.read(_CHUNK):
        buf = carry + chunk
        cut = buf.rfind(b">") + 1 or len(buf)
        buf, carry = buf[:cut], buf[cut:]
        for m in re.finditer(rb"<(?:\w+:)?(row|c)[\s/>]", buf):
            if m.group(1) == b"row":
                widest, current = max(widest, current), 0
                ext.row_tags += 1
            else:
                current += 1
        rows = _ROW_R.findall(buf)
        if rows:
            ext.row_r = max(ext.row_r, max(map(int, rows)))
    ext.max_cells_in_row = max(widest, current)


def sheet_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Extent:
    """The used range of one sheet part, read as a stream in bounded memory (1 MB pieces)."""
    ext = _Extent()
    with zf.open(info) as stream:
        head = stream.read(4096)
    m = _DIMENSION.search(head)
    if m:
        c1, r1, c2, r2 = m.groups()
        ext.dim_cols, ext.dim_rows = _col_number(c2 or c1 or b"A"), int(r2 or r1 or 1)
    ext.prefixed = re.search(rb"<\w+:(worksheet|sheetData)\b", head) is not None
    carry = b""
    with zf.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            buf = carry + chunk
            cut = buf.rfind(b">") + 1
            if cut == 0 and len(buf) < 4 * _CHUNK:  # no tag end yet: keep reading (bounded)
                carry = buf
                continue
            cut = cut or len(buf)
            buf, carry = buf[:cut], buf[cut:]
            _scan_chunk(buf, ext)
        if carry:
            _scan_chunk(carry, ext)
    if ext.cells > ext.refs:  # cells placed by position: count the widest row
        with zf.open(info) as stream:
            _by_position(stream, ext)
        ext.cols = max(ext.cols, ext.max_cells_in_row)
        ext.rows = max(ext.rows, ext.row_r, ext.row_tags)
    return ext


def _check_members(zf: zipfile.ZipFile, limits: ReadLimits) -> None:
    total = 0
    budget = limits.max_uncompressed_mb * _MB
    for info in zf.infolist():
        size, packed = info.file_size, info.compress_size
        total += size
        if size > budget:
            raise GuardError(f"zip member {info.filename!r} inflates to {_mb(size)}, more than the "
                             f"{_mb(budget)} a workbook may hold ([reading] max_uncompressed_mb)")
        if size > limits.ratio_floor_mb * _MB and size > limits.max_ratio * max(packed, 1):
            raise GuardError(f"zip member {info.filename!r} is compressed {size / max(packed, 1):,.0f} to 1 "
                             f"({_mb(packed)} inflating to {_mb(size)}), more than {limits.max_ratio:g} to 1 "
                             "([reading] max_ratio): a zip bomb")
    if total > budget:
        raise GuardError(f"its zip members inflate to {_mb(total)} together, more than the {_mb(budget)} a "
                         "workbook may hold ([reading] max_uncompressed_mb)")


def _check_extent(name: str, rows: int, cols: int, limits: ReadLimits, used: int) -> int:
    """Refuse a sheet beyond the bounds; the cells it adds to the workbook's total."""
    where = f"sheet part {name!r}"
    if cols > limits.max_columns:
        what = "beyond Excel's last column XFD" if cols > 16384 else f"up to column {column_letters(cols)} ({cols})"
        raise GuardError(f"{where} uses cells {what}; at most {limits.max_columns} columns are read "
                         "([reading] max_columns)")
    cells = rows * cols
    if used + cells > limits.max_cells:
        raise GuardError(f"{where} spans {rows:,} rows x {cols:,} columns ({cells:,} cells"
                         + (f", {used + cells:,} with the sheets before it" if used else "")
                         + f"); at most {limits.max_cells:,} cells are read ([reading] max_cells)")
    return cells



def _check_xlsx(data: bytes, limits: ReadLimits) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # not a zip after all: the readers say what it is
    with zf:
        _check_members(zf, limits)
        used = 0
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            try:
                if not _is_sheet_part(zf, info):
                    _drain(zf, info)  # inflate it anyway: a member that lies about its size fails its CRC
                    continue
                ext = sheet_extent(zf, info)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
                raise GuardError(f"zip member {name!r} is damaged: {exc}") from None
            # A <dimension ref> may overstate or understate: calamine sizes the range by the cells it finds,
            # so the cells decide (the dimension is only a hint, kept in the extent for messages and tests).
            used += _check_extent(name, ext.rows, ext.cols, limits, used)


def _is_sheet_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """A part that may hold cells: worksheets wherever they are and whatever their name (a workbook's
    relationships may put them anywhere), recognised by their opening bytes."""
    with zf.open(info) as stream:
        head = stream.read(4096)
    return re.search(rb"<(?:\w+:)?(worksheet|dialogsheet)\b", head) is not None or b"<sheetData" in head


def _drain(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    with zf.open(info) as stream:
        while stream.read(_CHUNK):
            pass


# BIFF8 DIMENSIONS record (0x0200, 14 bytes): first row, last row + 1 (32-bit), first col, last col + 1 (16-bit).
_BIFF_DIMENSIONS = re.compile(rb"\x00\x02\x0e\x00", re.DOTALL)


def _check_xls(data: bytes, limits: ReadLimits) -> None:
    """Legacy .xls: every sheet's DIMENSIONS record within the bounds (a record is 18 bytes: it never straddles
    the 512-byte sectors of the file in practice; a forged one that does is caught by the child's limits)."""
    used = 0
    for k, m in enumerate(_BIFF_DIMENSIONS.finditer(data)):
        body = data[m.end() : m.end() + 14]
        if len(body) < 14:
            break
        r1, r2, c1, c2, _ = struct.unpack("<IIHHH", body)
        if r1 > r2 or c1 > c2 or r2 > 65536 * 16 or c2 > 16384:  # not a plausible DIMENSIONS record
            if r2 > 65536 * 16 and r1 <= r2 and c1 <= c2 <= 16384:
                raise GuardError(f"a sheet declares {r2:,} rows, more than a workbook can have")
            continue
        used += _check_extent(f"sheet {k + 1} (.xls)", r2, c2, limits, used)


def check_workbook(data: bytes, limits: ReadLimits | None = None) -> None:
    """Raise GuardError when a workbook's bytes would make the spreadsheet reader exceed `limits`."""
    limits = limits or ReadLimits()
    if data.startswith(OLE2_MAGIC):
        _check_xls(data, limits)
    elif data.startswith(b"PK"):
        _check_xlsx(data, limits)
