"""What a workbook is about (run or period, creditors, bank booking dates, when it was made) and the page setup that
prints it on every page: landscape, fit to the page width, the header row repeated, run id and page number."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from etl.report.safe import xml_text

__all__ = ["Cover", "generated_text", "print_setup"]


@dataclass(frozen=True)
class Cover:
    """The Summary's heading: what the report covers and when it was made; the tie-out when there is one."""

    scope: str  # "Run" or "Period"
    name: str  # the run id, or the period ("2026-11")
    generated: dt.datetime  # timezone-aware: the Summary says which zone
    creditors: tuple[str, ...] = ()
    booked: tuple[dt.date, dt.date] | None = None  # first and last bank booking date of the payments covered
    tie_out: pl.DataFrame | None = None  # etl.reconcile.tie.TIE_COLUMNS, one row per currency
    tie_out_scope: str = ""  # what the tie-out adds up, when not simply the run (e.g. "the period's runs")


def generated_text(when: dt.datetime) -> str:
    """'2026-12-06 16:25:48 UTC', or with the zone's name and offset: '2026-12-06 17:25:48 CET (UTC+01:00)'."""
    if when.tzinfo is None:  # a naive time is the wall clock in UTC throughout amili-etl
        when = when.replace(tzinfo=dt.timezone.utc)
    stamp = f"{when:%Y-%m-%d %H:%M:%S}"
    offset = when.strftime("%z")  # e.g. +0100
    if offset == "+0000":
        return f"{stamp} UTC"
    zone = f"UTC{offset[:3]}:{offset[3:5]}"
    name = when.tzname() or ""
    return f"{stamp} {name} ({zone})" if name and not name.startswith(("UTC", "+", "-")) else f"{stamp} {zone}"


def _header_text(text: str) -> str:
    """Text for a page header: '&' doubled (a single one starts a code), XML-safe, and short (Excel keeps 255)."""
    return xml_text(text)[:80].replace("&", "&&")  # cut first: a cut must not leave half of a doubled '&'


def print_setup(ws: Any, cover: Cover, title_row: int) -> None:
    """Landscape, as wide as one page, `title_row` (0-based) printed on every page; the run (or period) and the
    sheet's name in the header, page n of m and the time made in the footer."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many pages long as the rows need
    ws.repeat_rows(title_row)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.7)
    ws.set_header(f"&L{_header_text(cover.scope + ' ' + cover.name)}&C&A&RPage &P of &N")
    ws.set_footer(f"&Lamili-etl discrepancy report&RGenerated {_header_text(generated_text(cover.generated))}")
