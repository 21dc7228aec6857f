"""Payment reservations per second that `amili-etl sandbox serve` (its own process) serves to a concurrent httpx client.

Usage:
    python bench/sandbox_throughput.py [--requests 3000] [--concurrency 8] [--repeats 3]
                                       [--client async|threads|both] [--server sandbox|bare|both]

`sandbox` starts `python -m etl sandbox serve` (= `amili-etl sandbox serve`, faults off) on a free loopback
port, seeds one ARM document, logs in and sends --requests payment reservations, each with a new paymentId,
--concurrency at a time. `bare` starts, for comparison, a bare uvicorn app in its own process that answers
every request with a fixed JSON body (same uvicorn, same HTTP parser and event loop as the sandbox picks).
Prints requests/s per repeat and the median, and the server process's CPU time per request (from /proc, so
independent of how busy the machine is); every answer must be 200 or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import orjson

CLIENT_NO = 2218
DOCUMENT_NO = "BENCH-1"
_BARE_APP = """
import sys, uvicorn
BODY = b'{"status":"PROCESSED","result":"VALIDATED","message":"Payment reservation validated","clientNo":2218}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the whole body, as any real handler must
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, lifespan="off")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(kind: str) -> Iterator[tuple[str, int]]:
    """Start the sandbox (or the bare app) in its own process; yield its base URL and pid once it answers."""
    port = _free_port()
    if kind == "sandbox":
        cmd = [sys.executable, "-m", "etl", "sandbox", "serve", "--port", str(port)]
        probe = "/_sandbox/health"
    else:
        cmd = [sys.executable, "-c", _BARE_APP, str(port)]
        probe = "/"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + probe, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{kind} server did not start: {' '.join(cmd)}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to show the server's own cost per request."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _prepare(base: str) -> dict[str, str]:
    """Seed the document the reservations point at and log in; returns the request headers."""
    httpx.post(base + "/_sandbox/seed", json={"arm_documents": [
        {"clientNo": CLIENT_NO, "documentNo": DOCUMENT_NO, "customerNo": "C1", "kid": "", "currency": "NOK", "amount": 1000}
    ]}).raise_for_status()
    form = {"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "sandbox"}
    token = httpx.post(base + "/auth/token", data=form).raise_for_status().json()["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _bodies(run: int, count: int) -> list[bytes]:
    # Built (and serialised) before the clock starts: the client's own JSON work is not the server's cost.
    return [
        orjson.dumps({"metadata": {"userId": "bench"}, "paymentreservation": {
            "documentNo": DOCUMENT_NO, "paymentId": f"BENCH-{run}-{i}", "currency": "NOK",
            "currencyAmountPaid": 12.5, "paidTime": "2025-04-27T06:08:37.227Z",
        }})
        for i in range(count)
    ]


def _run_async(url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int) -> float:
    async def main() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
            todo = iter(bodies)
            bad: list[int] = []

            async def worker() -> None:
                for body in todo:
                    r = await client.post(url, content=body)
                    if r.status_code != 200:
                        bad.append(r.status_code)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - start
            if bad:
                raise SystemExit(f"{len(bad)} answers were not 200: {sorted(set(bad))}")
            return elapsed

    return asyncio.run(main())


def _run_threads(url: str, headers: dict[str, str], bodies: list[bytes], concurrency: int) -> float:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    lock = threading.Lock()
    todo = iter(bodies)
    bad: list[int] = []

    def worker(client: httpx.Client) -> None:
        while True:
            with lock:
                body = next(todo, None)
            if body is None:
                return
            r = client.post(url, content=body)
            if r.status_code != 200:
                bad.append(r.status_code)

    # One client (one keep-alive connection) per thread: threads sharing one httpx pool contend on its lock.
    clients = [httpx.Client(headers=headers, limits=limits, timeout=30) for _ in range(concurrency)]
    try:
        for client in clients:
            client.get(url.rsplit("/", 1)[0] + "/documents")  # open the connection before timing
        threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    finally:
        for client in clients:
            client.close()
    if bad:
        raise SystemExit(f"{len(bad)} answers were not 200: {sorted(set(bad))}")
    return elapsed


def main() -> None:
    """Parse arguments, run every (server, client) pair --repeats times, print rates and medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--client", choices=["async", "threads", "both"], default="both")
    parser.add_argument("--server", choices=["sandbox", "bare", "both"], default="both")
    args = parser.parse_args()
    clients: dict[str, Callable[[str, dict[str, str], list[bytes], int], float]] = {"async": _run_async, "threads": _run_threads}
    client_names = list(clients) if args.client == "both" else [args.client]
    servers = ["sandbox", "bare"] if args.server == "both" else [args.server]
    try:
        import httptools  # noqa: F401

        parser_name = "httptools"
    except ImportError:
        parser_name = "h11"
    try:
        import uvloop  # noqa: F401

        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"
    print(f"uvicorn with {parser_name} + {loop_name}; {args.requests} requests, concurrency {args.concurrency}, "
          f"{args.repeats} repeats, {os.cpu_count()} CPUs")
    for server in servers:
        with _server(server) as (base, pid):
            headers = _prepare(base) if server == "sandbox" else {"Content-Type": "application/json"}
            url = f"{base}/arm/clients/{CLIENT_NO}/paymentreservations"
            for name in client_names:
                clients[name](url, headers, _bodies(-1, 200), args.concurrency)  # warm-up
                rates, cpu = [], []
                for run in range(args.repeats):
                    bodies = _bodies(run if name == "async" else 100 + run, args.requests)
                    before = _cpu_seconds(pid)
                    rates.append(args.requests / clients[name](url, headers, bodies, args.concurrency))
                    cpu.append((_cpu_seconds(pid) - before) / args.requests * 1e6)
                shown = ", ".join(f"{r:,.0f}" for r in rates)
                print(f"{server:8} {name:8} median {statistics.median(rates):,.0f} req/s  (runs: {shown}); "
                      f"server CPU {statistics.median(cpu):,.0f} us/request")


if __name__ == "__main__":
    main()
