"""What validation needs to know beyond the rows (no pandera here: importing this module must stay cheap)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RowRules"]


@dataclass(frozen=True)
class RowRules:
    """The file's country and the creditor's currencies."""

    country: str | None = None  # "NO" | "SE": national account and organisation number checks
    currencies: frozenset[str] | None = None  # invoices: the currencies the creditor bills in; None: any
    # Bank exports whose bank_ref names one transaction (CSV / Excel archive references): a second line with
    # the same reference is the same transaction listed twice, not a twin payment.
    unique_bank_ref: bool = False
