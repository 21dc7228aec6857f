"""write_off.sql / write_off_small: which over- and underpayments are written off, recorded once, and never again
once a person reopened one; a dry run records nothing."""

from __future__ import annotations

from pathlib import Path

from etl.config import load_config
from etl.reconcile import reconcile_run
from etl.reconcile.resolutions import apply_resolutions
from etl.reconcile.write_off import AUTO_WRITE_OFF_BY, write_off_small
from tests.conftest import sample_config_text
from tests.reconcile.support import NOW, RUN, match, payment

_SE = 'invoice_files = ["invoices_solkraft_*"]'


def _config(tmp: Path, limit: str):
    path = tmp / "amili-etl.toml"
    path.write_text(sample_config_text("https://amili.example").replace(_SE, f"{_SE}\nwrite_off_below = {limit}", 1),
                    encoding="utf-8")
    return load_config(path, env={})


def _paid(store, key: str, line: int, amount: int, open_: int, currency: str = "SEK") -> None:
    payment(store, key, source_line=line, amount_minor=amount, currency=currency, creditor="solkraft-se")
    match(store, key, "reference", creditor="solkraft-se", invoice_number=f"inv-{key}", outstanding_minor=open_,
          invoice_currency=currency)


def test_below_the_limit_is_written_off_at_the_limit_and_above_it_stays_open(store, tmp_path: Path) -> None:
    config = _config(tmp_path, '{ SEK = "5.00" }')
    _paid(store, "small-under", 1, 9_700, 10_000)   # -3.00
    _paid(store, "small-over", 2, 10_499, 10_000)   # +4.99
    _paid(store, "at-limit", 3, 9_500, 10_000)      # -5.00: not below
    _paid(store, "large", 4, 6_000, 10_000)         # -40.00
    _paid(store, "nothing-open", 5, 200, 0)         # a payment with no place, not a small difference
    _paid(store, "nok", 6, 9_900, 10_000, "NOK")    # no limit for NOK
    found, written = write_off_small(store, config, RUN, reconcile_run(store, RUN), NOW)
    assert sorted(written.get_column("break_key")) == ["small-over", "small-under"]
    assert set(written.get_column("difference_minor")) == {-300, 499}
    assert sorted(found.get_column("break_key")) == ["at-limit", "large", "nok", "nothing-open"]
    rows = store.frame("SELECT break_key, action, amount_minor, state, resolved_by, source_file FROM resolutions "
                       "ORDER BY break_key").rows()
    assert rows == [("small-over", "write_off", 499, "active", AUTO_WRITE_OFF_BY, None),
                    ("small-under", "write_off", -300, "active", AUTO_WRITE_OFF_BY, None)]

    # The same run reconciled again (a rerun): recorded once, the first record kept.
    again, written_again = write_off_small(store, config, RUN, reconcile_run(store, RUN), NOW.replace(day=28))
    assert written_again.height == 2 and set(written_again.get_column("resolved_at")) == {NOW}
    assert store.execute("SELECT count(*) FROM resolutions").fetchone() == (2,)


def test_a_dry_run_shows_the_write_offs_and_records_nothing(store, tmp_path: Path) -> None:
    config = _config(tmp_path, '"5.00"')
    _paid(store, "small", 1, 9_800, 10_000)
    found, written = write_off_small(store, config, RUN, reconcile_run(store, RUN), NOW, dry_run=True)
    assert written.get_column("break_key").to_list() == ["small"] and not found.height
    assert store.execute("SELECT count(*) FROM resolutions").fetchone() == (0,)


def test_a_reopened_automatic_write_off_stays_open(store, tmp_path: Path) -> None:
    config = _config(tmp_path, '"5.00"')
    _paid(store, "small", 1, 9_800, 10_000)
    write_off_small(store, config, RUN, reconcile_run(store, RUN), NOW)
    store.execute("UPDATE resolutions SET state = 'reopened'")  # what a person's `reopen` does to the row it undoes
    found, written = write_off_small(store, config, RUN, reconcile_run(store, RUN), NOW)
    assert not written.height and found.get_column("break_key").to_list() == ["small"]
    # ... and month-end does not count it as resolved either.
    breaks = found.select("category", "break_key").with_columns(status=found["category"].replace_strict(
        {"underpayment": "new"}))
    assert apply_resolutions(store, breaks, NOW.date()).get_column("status").to_list() == ["new"]


def test_without_write_off_below_nothing_is_written_off(store, tmp_path: Path) -> None:
    config = load_config(_write(tmp_path), env={})
    _paid(store, "small", 1, 9_999, 10_000)
    found, written = write_off_small(store, config, RUN, reconcile_run(store, RUN), NOW)
    assert found.get_column("break_key").to_list() == ["small"] and not written.height
    assert store.execute("SELECT count(*) FROM resolutions").fetchone() == (0,)


def _write(tmp: Path) -> Path:
    path = tmp / "plain.toml"
    path.write_text(sample_config_text("https://amili.example"), encoding="utf-8")
    return path
