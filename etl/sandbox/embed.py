"""Running the sandbox: EmbeddedSandbox (a background thread on a free loopback port) and serve (blocking)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from etl.sandbox.app import create_app, sandbox_state
from etl.sandbox.config import SandboxConfig
from etl.sandbox.faults import quiet_dropped_connections
from etl.sandbox.middleware import RequestHook
from etl.sandbox.state import State

__all__ = ["EmbeddedSandbox", "serve"]


class EmbeddedSandbox:
    """Context manager: a sandbox served by uvicorn in a daemon thread; `.base_url` once entered."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 10.0,
        hook: RequestHook | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.hook = hook
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._state: State | None = None

    def __enter__(self) -> EmbeddedSandbox:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving and wait until the socket is listening; RuntimeError if it does not come up."""
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        self.config.check_host(self.host)
        app = create_app(self.config, self.hook)
        uv_config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            # Leave the host program's logging alone; uvicorn's warnings reach the root logger.
            log_config=None,
            lifespan="off",
            access_log=False,
            # A sleeping "timeout" fault must not hold up stop().
            timeout_graceful_shutdown=1,
        )
        quiet_dropped_connections()
        self._server = uvicorn.Server(uv_config)
        self._state = sandbox_state(app)
        self._thread = threading.Thread(target=self._server.run, name="amili-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise RuntimeError(f"sandbox failed to start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox did not start within {self.startup_timeout_s} s")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{port}"

    @property
    def state(self) -> State:
        """The running sandbox's State (tests read issued tokens from it); RuntimeError before start."""
        if self._state is None:
            raise RuntimeError("sandbox not started")
        return self._state

    def stop(self) -> None:
        """Stop serving, wait for the thread, and write the state file one last time."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None
        if self._state is not None:
            self._state.flush()


def serve(host: str = "127.0.0.1", port: int = 8765, config: SandboxConfig | None = None) -> None:
    """Serve the sandbox in the foreground until interrupted (Ctrl-C / SIGTERM); for `amili-etl sandbox serve`.

    The state file is written at shutdown by the app's lifespan; uvicorn then re-raises the signal, so the
    process ends as killed by it (exit status 143 for SIGTERM in a shell), as uvicorn itself does.
    """
    config = config or SandboxConfig()
    config.check_host(host)  # ValueError before anything listens
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on", access_log=False, timeout_graceful_shutdown=2)
    )
    quiet_dropped_connections()
    try:
        server.run()
    finally:
        sandbox_state(app).flush()
