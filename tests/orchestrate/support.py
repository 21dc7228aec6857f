"""A creditor registry for the orchestration tests: the sample bureau (two creditors in one file) and a third creditor
in a folder of its own, each with its inbox filled as the bank and the ERP would fill it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SAMPLE, sample_config_text

# The third creditor: a small Norwegian ARM creditor whose invoices and SpareBank 1 export are written here.
FJORD = "fjord-no"
FJORD_ACCOUNT = "15062995979"  # MOD11-valid
FJORD_INVOICES = [("900001", "5001", "Kari Fjell", "1000.00"), ("900002", "5002", "Ola Berg", "2000.00"),
                  ("900003", "5003", "Nina Dal", "3000.00")]
FJORD_ITEMS = 2 * len(FJORD_INVOICES)  # an ARM document and a payment reservation per invoice
SECRETS = {"AMILI_NO_CLIENT_ID": "sandbox", "AMILI_NO_CLIENT_SECRET": "sandbox", "AMILI_SE_ADA_API_CODE": "sandbox"}


def _fast_http(text: str) -> str:
    # Longer than the sandbox's batch delay: a lookup after a lost batch answer sees the batch processed.
    return text.replace("[http]\n", "[inbox]\nsettle_s = 0\n\n[http]\nlookup_settle_s = 0.5\n", 1)


def bureau_config(folder: Path, base_url: str) -> Path:
    """The sample's two creditors in one amili-etl.toml, each with its own state file and reports ({creditor})."""
    folder.mkdir(parents=True, exist_ok=True)
    text = sample_config_text(base_url)
    text = text.replace('"../state/amili-etl.duckdb"', '"state/{creditor}.duckdb"')
    text = text.replace('"../reports"', '"reports/{creditor}"')
    path = folder / "amili-etl.toml"
    path.write_text(_fast_http(text), encoding="utf-8")
    return path


def fjord_config(folder: Path, base_url: str) -> Path:
    """A one-creditor amili-etl.toml for fjord-no (ARM documents and payment reservations)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = f"""[state]
path = "state/amili-etl.duckdb"

[output]
dir = "reports"

[http]
timeout_s = 5

[[creditor]]
name = "{FJORD}"
country = "NO"
accounts = ["{FJORD_ACCOUNT}"]
reference_check = "mod10"
invoices_to = "arm"
payments_to = "arm"
invoice_files = ["invoices_fjord_*"]
arm = {{ base_url = "{base_url}/arm", client_no = 3310 }}
auth = {{ token_url = "{base_url}/auth/token", client_id_env = "AMILI_NO_CLIENT_ID", client_secret_env = "AMILI_NO_CLIENT_SECRET" }}
"""
    path = folder / "amili-etl.toml"
    path.write_text(_fast_http(text), encoding="utf-8")
    return path


def fill_fjord_inbox(inbox: Path) -> list[str]:
    """fjord-no's invoice export (booked in October) and the SpareBank 1 export of November paying them."""
    inbox.mkdir(parents=True, exist_ok=True)
    rows = ["invoice_number,customer_number,customer_name,kid,invoice_date,due_date,currency,amount_excl_vat,"
            "vat_amount,amount_incl_vat"]
    for i, (number, customer, name, amount) in enumerate(FJORD_INVOICES):
        total = int(amount.split(".")[0])
        rows.append(f"{number},{customer},{name},,2026-10-{20 + i},2026-11-{19 + i},NOK,"
                    f"{total * 4 // 5}.00,{total // 5}.00,{amount}")
    (inbox / "invoices_fjord_2026-11-18.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    bank = ["Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;"]
    for number, _, name, amount in FJORD_INVOICES:
        bank.append(f'"20.11.2026";"Betaling faktura {number} {name}";;"{amount.replace(".", ",")}";;'
                    f'"{FJORD_ACCOUNT}";"73584051024";')
    (inbox / "sparebank1_fjord_2026-11-20.csv").write_text("\n".join(bank) + "\n", encoding="utf-8")
    return ["invoices_fjord_2026-11-18.csv", "sparebank1_fjord_2026-11-20.csv"]


def fill_sample_inbox(inbox: Path, country: str) -> list[str]:
    """The sample's files of one country (sample_data/no or se) dropped into `inbox`."""
    inbox.mkdir(parents=True, exist_ok=True)
    names = []
    for f in sorted((SAMPLE / country).iterdir()):
        shutil.copy2(f, inbox / f.name)
        names.append(f.name)
    return names


def build_registry(root: Path, base_url: str, pools: str = "arm = 2\nada = 1\ncollection = 1") -> dict[str, list[str]]:
    """A registry folder with the bureau file (nordlys-no, solkraft-se) and fjord-no, inboxes filled; the names
    of the files dropped per creditor."""
    bureau_config(root / "bureau", base_url)
    fjord_config(root / FJORD, base_url)
    (root / "orchestration.toml").write_text(f"[pools]\n{pools}\n", encoding="utf-8")
    return {"nordlys-no": fill_sample_inbox(root / "bureau" / "inbox" / "nordlys-no", "no"),
            "solkraft-se": fill_sample_inbox(root / "bureau" / "inbox" / "solkraft-se", "se"),
            FJORD: fill_fjord_inbox(root / FJORD / "inbox" / FJORD)}
