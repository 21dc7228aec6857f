"""The peer to beat: `amili-etl validate` of a SpareBank 1 CSV, the same steps written with pandas + pandera.

Usage:
    python bench/baseline_pandas.py FILE.csv

Steps, as etl does them: read the bytes and hash them; decode (UTF-8, else cp1252); find the header line;
read every cell as text; drop blank rows; parse the Inn / Ut amounts to integer øre (no float), the date
(dd.mm.yyyy), the accounts (digits); count twin rows (occurrence); hash each row's facts into its stable key
(sha256); validate with pandera's pandas backend (amount non-zero and in range, currency, date range, key,
receiving account check by distinct value); print the same JSON numbers as `amili-etl validate --json`.
Idiomatic pandas throughout: vectorised `.str` methods where pandas has them, a list comprehension for the
sha256 (pandas has no vectorised one). Needs the `bench` extra (pandas, pandera[pandas]).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from stdnum.no import kontonr

HEADER = ["Dato", "Beskrivelse", "Rentedato", "Inn", "Ut", "Til konto", "Fra konto"]
MAX_MINOR = 1_000_000_000_000


def _amount(text: pd.Series) -> pd.Series:
    """Decimal-comma text -> Int64 øre, via integer parts (never float)."""
    s = text.str.replace(r"[\s\u00a0.]|kr$", "", regex=True).str.replace(",", ".", regex=False)
    parts = s.str.extract(r"^([+-]?)(\d+)(?:\.(\d{0,2}))?$")
    units = pd.to_numeric(parts[1], errors="coerce").astype("Int64")
    frac = pd.to_numeric(parts[2].fillna("").str.pad(2, side="right", fillchar="0"), errors="coerce").astype("Int64")
    sign = parts[0].map({"-": -1}).fillna(1).astype("Int64")
    return sign * (units * 100 + frac)


def main(path: Path) -> None:
    """Read, map, key and validate one file; print the validate JSON."""
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    lines = text.split("\n", 20)[:20]
    idx = next(i for i, line in enumerate(lines) if [c.strip('"') for c in line.rstrip("\r;").split(";")] == HEADER)
    raw = pd.read_csv(io.StringIO(text), sep=";", skiprows=idx, dtype=str, keep_default_na=False)
    raw["source_line"] = range(idx + 2, idx + 2 + len(raw))
    raw = raw[(raw[HEADER] != "").any(axis=1)]

    inn, ut = _amount(raw["Inn"].str.strip()), _amount(raw["Ut"].str.strip())
    rows = pd.DataFrame({
        "source_file": str(path),
        "source_sha256": sha256,
        "source_line": raw["source_line"],
        "account": raw["Til konto"].str.replace(r"\D", "", regex=True).replace("", None),
        "booking_date": pd.to_datetime(raw["Dato"].str.strip(), format="%d.%m.%Y", errors="coerce"),
        "amount_minor": inn.fillna(0) - ut.abs().fillna(0),
        "currency": "NOK",
        "reference": None,
        "message": raw["Beskrivelse"].str.strip().replace("", None),
        "payer_account": raw["Fra konto"].str.replace(r"\D", "", regex=True).replace("", None),
    })
    rows.loc[inn.isna() & ut.isna(), "amount_minor"] = pd.NA
    parts = ["account", "booking_date", "amount_minor", "reference", "message"]
    rows["occurrence"] = rows.groupby(parts, dropna=False, sort=False).cumcount() + 1
    facts = [
        rows["account"].fillna(""),
        rows["booking_date"].dt.strftime("%Y-%m-%d").fillna(""),
        rows["amount_minor"].astype("string").fillna(""),
        rows["reference"].fillna(""),
        rows["message"].fillna(""),
        rows["occurrence"].astype(str),
    ]
    joined = facts[0].str.cat(facts[1:], sep="|")
    rows["payment_key"] = ["CSV-" + hashlib.sha256(j.encode()).hexdigest()[:24] for j in joined]

    accounts = rows.loc[rows["amount_minor"] > 0, "account"].dropna().unique()
    good = {a for a in accounts if len(a) != 11 or kontonr.is_valid(a)}
    incoming = rows["amount_minor"].fillna(0) > 0
    schema = pa.DataFrameSchema({
        "source_line": pa.Column(int),
        "amount_minor": pa.Column("Int64", [pa.Check.ne(0), pa.Check.in_range(-MAX_MINOR, MAX_MINOR)]),
        "currency": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}$")),
        "booking_date": pa.Column("datetime64[ns]", pa.Check.in_range(pd.Timestamp(2000, 1, 1), pd.Timestamp(2099, 12, 31))),
        "payment_key": pa.Column(str),
        "account": pa.Column(object, pa.Check(lambda s: ~incoming.loc[s.index] | s.isna() | s.isin(good)), nullable=True),
    })
    try:
        schema.validate(rows, lazy=True)
        bad = set()
    except pa.errors.SchemaErrors as errs:
        bad = set(errs.failure_cases["index"].dropna())
    valid = rows[~rows.index.isin(bad)]
    total = int(valid["amount_minor"].sum())
    print(json.dumps({"files": [{
        "path": str(path), "format": "bank_csv", "rows": len(rows), "valid": len(valid), "rejected": len(bad),
        "status": "rejected_rows" if bad else "ok", "total_amount": f"{Decimal(total) / 100:.2f}",
        "currency": "NOK", "message": None,
    }]}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
