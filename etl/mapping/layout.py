"""Layouts of bank and ERP exports, loaded from mappings/*.toml (the format is described in docs/mappings.md)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from etl.errors import ConfigError

__all__ = ["Layout", "MappingSet", "load_mappings", "BANK_FIELDS", "INVOICE_FIELDS", "LINE_FIELDS", "KINDS"]

KINDS = ("bank", "invoices")

# Canonical fields a layout may map, per kind. Text fields may name a list of columns (joined with a space).
BANK_FIELDS = (
    "booking_date",
    "amount",  # one signed column ...
    "amount_in",  # ... or two columns: in (credits) and out (debits, sign ignored: always subtracted)
    "amount_out",
    "currency",
    "account",
    "reference",
    "message",
    "payer_name",
    "payer_account",
    "bank_ref",
)
INVOICE_FIELDS = (
    "invoice_number",
    "customer_number",
    "customer_name",
    "customer_org_number",
    "kid",
    "invoice_date",
    "due_date",
    "currency",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
)
# Line fields of a line-level invoice export ([line_columns]): one row per invoice line, grouped by invoice_number.
LINE_FIELDS = (
    "line_no",
    "article_no",
    "line_text",
    "quantity",
    "unit_price",
    "vat_code",
    "line_amount_excl_vat",
    "line_vat",
    "line_amount_incl_vat",
)
_FIELDS = {"bank": BANK_FIELDS, "invoices": INVOICE_FIELDS}
# Fields whose values are parsed (dates, amounts, codes): one column each, never a list.
_SINGLE = {
    "booking_date",
    "amount",
    "amount_in",
    "amount_out",
    "currency",
    "invoice_date",
    "due_date",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
}
_KEYS = {
    "name",
    "kind",
    "description",
    "header",
    "optional_header",
    "delimiter",
    "decimal",
    "date_format",
    "encoding",
    "currency",
    "account",
    "country",
    "sheet",
    "skip_rows_matching",
    "columns",
    "line_columns",
    "vat_rates",
}
_ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp1252", "latin-1", "iso-8859-1", "iso-8859-15")


@dataclass(frozen=True)
class Layout:
    """One bank or ERP export layout: how to recognise it (its header) and how its columns map to canonical fields."""

    name: str
    kind: str  # "bank" | "invoices"
    header: tuple[str, ...]  # exact column names, in order: recognises the layout
    columns: Mapping[str, tuple[str, ...]]  # canonical field -> source column(s)
    description: str = ""
    optional_header: tuple[str, ...] = ()  # trailing columns some versions of the export leave out
    delimiter: str = "auto"  # one character, or "auto": sniffed from the header line
    decimal: str = ","  # "," | "." | "auto" (read off the file's first amounts)
    date_formats: tuple[str, ...] = ("%d.%m.%Y",)  # tried in order; ISO dates are always accepted too
    encoding: str = "auto"  # auto: UTF-8 (with or without BOM), else cp1252, else latin-1
    currency: str | None = None  # fixed currency when the export has no currency column
    account: str | None = None  # fixed receiving account when the export has no account column
    country: str | None = None  # "NO" | "SE": which national account / organisation number checks apply
    sheet: str | None = None  # .xlsx: the sheet to read (default: the first sheet whose header matches)
    skip_rows_matching: Mapping[str, str] = field(default_factory=dict)  # source column -> regex: not a transaction
    # Line-level invoice exports: line field -> source column, and VAT code -> rate in basis points (2500 = 25%).
    line_columns: Mapping[str, str] = field(default_factory=dict)
    vat_rates: Mapping[str, int] = field(default_factory=dict)
    source: Path | None = None  # the TOML file it came from

    def matches_header(self, cells: list[str]) -> bool:
        """Whether a header row (cells stripped, trailing empty cells dropped) is exactly this layout's header."""
        n = len(self.header)
        if tuple(cells[:n]) != self.header:
            return False
        rest = tuple(cells[n:])
        return rest == self.optional_header[: len(rest)]

    def overlap(self, cells: list[str]) -> float:
        """Share of this layout's header columns present in `cells` (for a 'looks like, but' diagnosis)."""
        present = set(cells)
        return sum(1 for h in self.header if h in present) / len(self.header)

    def source_columns(self) -> tuple[str, ...]:
        """Every source column the mapping reads, in mapping order, without repeats."""
        seen: dict[str, None] = {}
        for cols in self.columns.values():
            seen.update(dict.fromkeys(cols))
        for col in self.skip_rows_matching:
            seen[col] = None
        seen.update(dict.fromkeys(self.line_columns.values()))
        return tuple(seen)


@dataclass(frozen=True)
class MappingSet:
    """The known layouts, by name; the first directory given wins when two define the same name."""

    layouts: tuple[Layout, ...] = ()

    def __iter__(self) -> Iterator[Layout]:
        return iter(self.layouts)

    def __len__(self) -> int:
        return len(self.layouts)

    @property
    def names(self) -> tuple[str, ...]:
        """Layout names, in load order."""
        return tuple(lay.name for lay in self.layouts)

    def get(self, name: str) -> Layout:
        """The layout called `name`; ConfigError naming the known ones when there is none."""
        for lay in self.layouts:
            if lay.name == name:
                return lay
        raise ConfigError(f"no mapping called {name!r}; known: {', '.join(self.names) or 'none'}")

    def of_kind(self, kind: str) -> tuple[Layout, ...]:
        """Layouts of one kind ("bank" or "invoices")."""
        return tuple(lay for lay in self.layouts if lay.kind == kind)


def load_mappings(dirs: list[Path]) -> MappingSet:
    """Every mappings/*.toml in `dirs` (in priority order: an earlier directory's layout wins over a later one's)."""
    layouts: dict[str, Layout] = {}
    for d in dirs:
        if not d.is_dir():
            raise ConfigError(f"{d}: mappings folder not found")
        for path in sorted(d.glob("*.toml")):
            lay = load_layout(path)
            layouts.setdefault(lay.name, lay)
    return MappingSet(tuple(layouts.values()))


def load_layout(path: Path) -> Layout:
    """One layout file, checked: ConfigError naming the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable TOML mapping: {exc}") from None
    return layout_from_dict(raw, path)


def _fail(path: Path | None, msg: str) -> ConfigError:
    return ConfigError(f"{path or '<mapping>'}: {msg}")


def _str_tuple(value: object, what: str, path: Path | None) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _fail(path, f"{what} must be a string or a non-empty list of strings")


def layout_from_dict(raw: dict, path: Path | None = None) -> Layout:
    """Build and check a Layout from parsed TOML (also handy in tests)."""
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(unknown)}")
    for key in ("name", "kind", "header", "columns"):
        if key not in raw:
            raise _fail(path, f"missing key {key!r}")
    kind = raw["kind"]
    if kind not in KINDS:
        raise _fail(path, f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    header = _str_tuple(raw["header"], "header", path)
    optional = _str_tuple(raw["optional_header"], "optional_header", path) if "optional_header" in raw else ()
    if not isinstance(raw["columns"], dict):
        raise _fail(path, "[columns] must be a table of canonical field = source column")
    columns: dict[str, tuple[str, ...]] = {}
    allowed = _FIELDS[kind]
    for canon, src in raw["columns"].items():
        if canon not in allowed:
            raise _fail(path, f"[columns] {canon!r} is not a {kind} field; expected one of {', '.join(allowed)}")
        cols = _str_tuple(src, f"[columns] {canon}", path)
        if canon in _SINGLE and len(cols) != 1:
            raise _fail(path, f"[columns] {canon} must name exactly one column")
        columns[canon] = cols
    _check_required(kind, columns, raw, path)
    delimiter = raw.get("delimiter", "auto")
    if not isinstance(delimiter, str) or (len(delimiter) != 1 and delimiter != "auto"):
        raise _fail(path, 'delimiter must be a single character (use "\\t" for TAB) or "auto"')
    decimal = raw.get("decimal", ",")
    if decimal not in (",", ".", "auto"):
        raise _fail(path, 'decimal must be ",", "." or "auto"')
    country = raw.get("country")
    if country not in (None, "NO", "SE"):
        raise _fail(path, 'country must be "NO" or "SE"')
    encoding = str(raw.get("encoding", "auto")).lower()
    if encoding not in _ENCODINGS:
        raise _fail(path, f"encoding must be one of {', '.join(_ENCODINGS)}")
    skip = raw.get("skip_rows_matching", {})
    if not isinstance(skip, dict) or not all(isinstance(v, str) for v in skip.values()):
        raise _fail(path, "[skip_rows_matching] must be a table of source column = regular expression")
    for col, pattern in skip.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(path, f"[skip_rows_matching] {col}: bad regular expression: {exc}") from None
    line_columns, vat_rates = _lines(raw, kind, path)
    lay = Layout(
        name=str(raw["name"]),
        kind=kind,
        header=header,
        columns=MappingProxyType(columns),
        description=str(raw.get("description", "")),
        optional_header=optional,
        delimiter=delimiter,
        decimal=decimal,
        date_formats=_str_tuple(raw.get("date_format", "%d.%m.%Y"), "date_format", path),
        encoding=encoding,
        currency=raw.get("currency"),
        account=raw.get("account"),
        country=country,
        sheet=raw.get("sheet"),
        skip_rows_matching=MappingProxyType(dict(skip)),
        line_columns=MappingProxyType(line_columns),
        vat_rates=MappingProxyType(vat_rates),
        source=path,
    )
    known = set(header) | set(optional)
    missing = [c for c in lay.source_columns() if c not in known]
    if missing:
        raise _fail(path, f"column(s) {', '.join(map(repr, missing))} are mapped but not in header")
    return lay


def _lines(raw: dict, kind: str, path: Path | None) -> tuple[dict[str, str], dict[str, int]]:
    """[line_columns] and [vat_rates], checked: line fields only for invoices, rates as percentages."""
    lines = raw.get("line_columns", {})
    rates = raw.get("vat_rates", {})
    if (lines or rates) and kind != "invoices":
        raise _fail(path, "[line_columns] and [vat_rates] are for invoice layouts only")
    if not isinstance(lines, dict) or not all(isinstance(v, str) for v in lines.values()):
        raise _fail(path, "[line_columns] must be a table of line field = source column")
    for name in lines:
        if name not in LINE_FIELDS:
            raise _fail(path, f"[line_columns] {name!r} is not a line field; expected one of {', '.join(LINE_FIELDS)}")
    if lines and "line_amount_excl_vat" not in lines and not {"unit_price", "quantity"} <= set(lines):
        raise _fail(path, "[line_columns] needs line_amount_excl_vat, or unit_price and quantity")
    if not isinstance(rates, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 100 for v in rates.values()
    ):
        raise _fail(path, "[vat_rates] must be a table of VAT code = percentage (0-100)")
    return dict(lines), {str(code): round(float(pct) * 100) for code, pct in rates.items()}


def _check_required(kind: str, columns: dict[str, tuple[str, ...]], raw: dict, path: Path | None) -> None:
    """The fields without which a row is useless; say which one is missing."""
    if "currency" not in columns and not raw.get("currency"):
        raise _fail(path, "either a fixed `currency` or [columns] currency is required")
    if kind == "bank":
        if "booking_date" not in columns:
            raise _fail(path, "[columns] booking_date is required")
        has_signed = "amount" in columns
        has_split = "amount_in" in columns or "amount_out" in columns
        if has_signed == has_split:
            raise _fail(path, "[columns] needs either amount (one signed column) or amount_in/amount_out")
        if has_split and not ("amount_in" in columns and "amount_out" in columns):
            raise _fail(path, "[columns] amount_in and amount_out go together")
    else:
        if "invoice_number" not in columns:
            raise _fail(path, "[columns] invoice_number is required")
        if "amount_incl_vat" not in columns and not raw.get("line_columns"):
            raise _fail(path, "[columns] amount_incl_vat is required (or [line_columns] to sum the lines)")
