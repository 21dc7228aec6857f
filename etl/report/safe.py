"""Text made safe for reports: against formula injection (a text cell that starts with = + - @ or tab / CR is not a
formula) and against characters XML 1.0 forbids (a bank text with U+FFFF or a NUL must never break a workbook).

XML 1.0 allows TAB, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD and U+10000 and above. Everything else (the other C0
controls, lone surrogates, U+FFFE, U+FFFF) becomes U+FFFD, the replacement character, in every text cell of
the workbooks: the reader sees that something was there. CSV and JSON keep the text (controls included) but
stay valid UTF-8: only lone surrogates (e.g. from a file name that is not UTF-8) become U+FFFD.
"""

from __future__ import annotations

import re

import polars as pl

__all__ = ["escape_cell", "escape_text_columns", "xml_text", "xml_text_expr", "xml_safe", "xml_safe_columns",
           "utf8_text", "REPLACEMENT"]

REPLACEMENT = "\ufffd"
# Characters XML 1.0 forbids, for Python strings (which may hold lone surrogates) ...
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# ... and for polars (its strings are UTF-8: they cannot hold a surrogate).
XML_FORBIDDEN_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]"
_SURROGATE = re.compile("[\ud800-\udfff]")


def xml_text(value: str) -> str:
    """`value` with every character XML 1.0 forbids replaced by U+FFFD."""
    return _XML_FORBIDDEN.sub(REPLACEMENT, value)


def xml_text_expr(expr: pl.Expr) -> pl.Expr:
    """xml_text, vectorised over a String expression."""
    return expr.str.replace_all(XML_FORBIDDEN_PATTERN, REPLACEMENT)


def xml_safe(value: object) -> object:
    """xml_text over every string in `value` (dicts, lists and tuples walked; other values unchanged)."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {xml_safe(k): xml_safe(v) for k, v in value.items()}
    if isinstance(value, list) or type(value) is tuple:
        return type(value)(xml_safe(v) for v in value)
    return value


def xml_safe_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """xml_text over every String column of `frame` (and its column names)."""
    frame = frame.rename({c: xml_text(c) for c in frame.columns if _XML_FORBIDDEN.search(c)})
    return frame.with_columns(xml_text_expr(pl.col(c)) for c, t in frame.schema.items() if t == pl.String)


def utf8_text(value: str) -> str:
    """`value` as text that encodes to UTF-8: lone surrogates become U+FFFD; everything else is kept."""
    return _SURROGATE.sub(REPLACEMENT, value)

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A signed plain number ("-348,56", "+12.00") cannot run as a formula: leave it, so rejects files stay re-readable.
_PLAIN_NUMBER = r"^[+-][0-9][0-9 .,\u00a0]*$"


def escape_cell(value: object, *, numbers_too: bool = False) -> object:
    """Prefix a dangerous text cell with an apostrophe; other values pass unchanged.

    A signed plain number is left alone unless `numbers_too` (the workbook escapes every such text cell; CSV files
    keep "-348,56" so a rejects file can be fed back in).
    """
    if isinstance(value, str) and value.startswith(_TRIGGERS) and (numbers_too or not re.match(_PLAIN_NUMBER, value)):
        return "'" + value
    return value


def escape_text_columns(frame: pl.DataFrame, keep: tuple[str, ...] = (), *, numbers_too: bool = False) -> pl.DataFrame:
    """Vectorised `escape_cell` over every String column except `keep` (e.g. amounts we formatted ourselves)."""
    risky = r"^[=+\-@\t\r]"
    plain = pl.lit(False) if numbers_too else None
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(risky) & ~(plain if plain is not None else pl.col(c).str.contains(_PLAIN_NUMBER)))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, t in frame.schema.items()
        if t == pl.String and c not in keep
    )
