"""`amili-etl sandbox serve` as its own process: options, --state across a restart, --seed once, clean errors."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from .support import ARM_EXAMPLE_SEED, RESERVATION_EXAMPLE

REPO = Path(__file__).resolve().parents[2]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "etl", "sandbox", "serve", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "AMILI_SANDBOX_CLIENT_SECRET": "ci-secret"}


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None, admin: str | None = None, output: list[bytes] | None = None) -> Iterator[str]:
    """Run the command on a free port until the block ends (SIGTERM, as a CI would stop it); its output into `output`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(_command("--port", str(port), *args), env={**_env(), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {admin}"} if admin else {}
    try:
        # Wait until it answers, however long a loaded machine takes to start Python and import everything.
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(f"{base}/_sandbox/health", headers=headers).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sandbox did not answer within 120 s"
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
        if output is not None:
            output.extend(proc.communicate())


# Requests to the served process: wait as long as a loaded machine needs (httpx's default gives up after 5 s).
_get = functools.partial(httpx.get, timeout=60)
_post = functools.partial(httpx.post, timeout=60)
_request = functools.partial(httpx.request, timeout=60)


def _reserve(base: str) -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "ci-secret"}
    token = _post(f"{base}/auth/token", data=form).raise_for_status().json()
    # --token-lifetime: not the default (3600), and long enough that the token never expires before its use.
    assert token["expires_in"] == 86400
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return _post(f"{base}/arm/clients/2218/paymentreservations", json=RESERVATION_EXAMPLE, headers=headers)


def test_state_survives_a_restart_and_the_seed_is_applied_once(tmp_path: Path) -> None:
    state, seed = tmp_path / "state.json", tmp_path / "seed.json"
    seed.write_bytes(orjson.dumps({"arm_documents": [ARM_EXAMPLE_SEED]}))
    args = ("--state", str(state), "--seed", str(seed), "--token-lifetime", "86400")
    with serving(*args) as base:
        first = _reserve(base)
        assert first.status_code == 200, first.text
        assert _get(f"{base}/openapi.json").status_code == 200
    assert state.is_file()
    with serving(*args) as base:
        again = _reserve(base)
        assert again.status_code == 200 and again.json() == first.json()  # the repeat is recognised after the restart
        items = _get(f"{base}/_sandbox/ledger").json()["items"]
        assert [(i["key"], i["accepted"], i["duplicates_refused"]) for i in items] == [("PM285000350786", 1, 1)]
        docs = _get(f"{base}/_sandbox/stats").json()
        assert docs["requests"]  # statistics start again after a restart; data does not


def test_bad_options_are_one_line_errors_with_exit_2(tmp_path: Path) -> None:
    bad_seed = tmp_path / "seed.json"
    bad_seed.write_text("{not json")
    for args in (("--faults", "500=2"), ("--faults", "abc"), ("--seed", str(bad_seed))):
        proc = subprocess.run(_command("--port", "9", *args), env=_env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("amili-etl: error: sandbox: "), proc.stderr


def _fails(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the command expecting exit 2 with a one-line error; returns that line."""
    proc = subprocess.run(_command("--port", "9", *args), env={**_env(), **(env or {})}, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (args, proc.stderr)
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("amili-etl: error: sandbox: "), proc.stderr
    return last


def test_a_non_loopback_host_needs_allow_remote_and_an_admin_token() -> None:
    assert "--allow-remote" in _fails("--host", "0.0.0.0")
    assert "--allow-remote" in _fails("--host", "192.0.2.10")
    no_token = {k: v for k, v in _env().items() if k != "AMILI_SANDBOX_ADMIN_TOKEN"}
    proc = subprocess.run(_command("--port", "9", "--host", "0.0.0.0", "--allow-remote"), env=no_token, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "AMILI_SANDBOX_ADMIN_TOKEN" in proc.stderr.strip().splitlines()[-1], proc.stderr


def test_remote_sandbox_admin_endpoints_need_the_admin_token() -> None:
    admin = "admin-QQZX-7c6b5a"
    with serving("--host", "0.0.0.0", "--allow-remote", env={"AMILI_SANDBOX_ADMIN_TOKEN": admin}, admin=admin) as base:
        for method, path in (("GET", "/_sandbox/health"), ("GET", "/_sandbox/ledger"), ("POST", "/_sandbox/reset"),
                             ("GET", "/_sandbox/stats"), ("POST", "/_sandbox/seed")):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": admin}):
                r = _request(method, f"{base}{path}", headers=headers, json={})
                assert r.status_code == 401 and r.json() == {"error": "The sandbox admin token is required"}, (path, headers)
            assert _request(method, f"{base}{path}", headers={"Authorization": f"Bearer {admin}"}, json={}).status_code == 200
        # The API itself is unchanged: its own logins, no admin token.
        form = {"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "ci-secret"}
        token = _post(f"{base}/auth/token", data=form).raise_for_status().json()["access_token"]
        assert _get(f"{base}/arm/clients/2218/documents", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert _get(f"{base}/openapi.json").status_code == 200


def test_loopback_admin_endpoints_stay_open_even_with_the_variable_set() -> None:
    with serving(env={"AMILI_SANDBOX_ADMIN_TOKEN": "x"}) as base:
        assert _get(f"{base}/_sandbox/ledger").status_code == 200


def test_logins_file_binds_a_second_login_to_its_tenants(tmp_path: Path) -> None:
    secret, code = "SECRET-QQZX-b7a6", "CODE-QQZX-c9d8"
    logins = tmp_path / "logins.toml"
    logins.write_text(
        '[[login]]\nclient_id = "erp-b"\nclient_secret_env = "ERP_B_SECRET"\nada_api_code_env = "ERP_B_CODE"\n'
        'arm_clients = [3001]\ncollection_orgs = ["org-b"]\nada_creditors = ["creditor-b"]\n'
    )
    env = {"ERP_B_SECRET": secret, "ERP_B_CODE": code}
    output: list[bytes] = []
    with serving("--logins", str(logins), env=env, output=output) as base:
        form = {"grant_type": "client_credentials", "client_id": "erp-b", "client_secret": secret}
        b = {"Authorization": f"Bearer {_post(f'{base}/auth/token', data=form).raise_for_status().json()['access_token']}"}
        default = {"Authorization": f"Bearer {_post(f'{base}/auth/token', data={**form, 'client_id': 'sandbox', 'client_secret': 'ci-secret'}).json()['access_token']}"}
        assert _get(f"{base}/arm/clients/3001/documents", headers=b).status_code == 200
        assert _get(f"{base}/arm/clients/2218/documents", headers=b).status_code == 403
        assert _get(f"{base}/arm/clients/3001/documents", headers=default).status_code == 403
        assert _get(f"{base}/collection/v1/orgs/org-b/batches", headers=default).status_code == 403
        ada = _post(f"{base}/ada/authenticates/api-code", json={"api_code": code}).raise_for_status().json()["access_token"]
        assert _post(f"{base}/ada/creditor--payments", json=[{"creditor": "other"}], headers={"X-API-Key": ada}).status_code == 403
    assert b"sandbox on http://" in output[1]  # the start line: output was captured
    assert not [o for o in output if secret.encode() in o or code.encode() in o or ada.encode() in o]


def test_bad_logins_files_are_one_line_errors_without_secrets(tmp_path: Path) -> None:
    logins = tmp_path / "logins.toml"
    logins.write_text('[[login]]\nclient_id = "erp-b"\nclient_secret_env = "ERP_B_UNSET"\n')
    assert "ERP_B_UNSET" in _fails("--logins", str(logins))
    logins.write_text('[[login]]\nclient_id = "erp-b"\nclient_secret = "SECRET-QQZX-1"\narm_clients = [1]\n'
                      '[[login]]\nclient_id = "erp-c"\nclient_secret = "SECRET-QQZX-2"\narm_clients = [1]\n')
    line = _fails("--logins", str(logins))
    assert "another login" in line and "SECRET-QQZX" not in line
    logins.write_text("not = [toml")
    assert "cannot read the logins file" in _fails("--logins", str(logins))
    json_logins = tmp_path / "logins.json"
    json_logins.write_text('{"login": [{"client_id": "erp-b", "client_secret": "s", "colour": "red"}]}')
    assert "unknown key(s) colour" in _fails("--logins", str(json_logins))
