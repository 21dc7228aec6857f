"""The EtlError family: every known failure, each carrying the exit code of the contract (docs/contracts.md)."""

from __future__ import annotations

__all__ = [
    "EXIT_CLEAN",
    "EXIT_DISCREPANCIES",
    "EXIT_USAGE",
    "EXIT_INPUT",
    "EXIT_PARTIAL",
    "EXIT_TEMPFAIL",
    "EXIT_INTERNAL",
    "EtlError",
    "ConfigError",
    "InputError",
    "PartialSubmissionError",
    "AmiliUnavailableError",
    "AmiliRejectedError",
    "StateError",
    "StateLockedError",
    "InternalError",
]

EXIT_CLEAN = 0
EXIT_DISCREPANCIES = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_PARTIAL = 4
EXIT_TEMPFAIL = 75
EXIT_INTERNAL = 70


class EtlError(Exception):
    """Root of every known failure; the CLI prints `str(err)` on one line and exits with `exit_code`."""

    exit_code: int = EXIT_USAGE


class ConfigError(EtlError):
    """The configuration file or a command-line option is wrong."""

    exit_code = EXIT_USAGE


class InputError(EtlError):
    """An input file is missing, unreadable, or a run is incomplete."""

    exit_code = EXIT_INPUT


class StateError(EtlError):
    """The state database is unusable (locked, corrupt, from a newer version)."""

    exit_code = EXIT_USAGE


class StateLockedError(StateError):
    """Another amili-etl run holds the state file (or its lock): nothing was touched, run again later."""

    exit_code = EXIT_TEMPFAIL


class InternalError(EtlError):
    """The machine failed us: a corrupt or truncated state file, a full disk, a state file deleted or replaced
    during the run, an output that could not be written. A person must look (exit 70); nothing half-written
    counts as done."""

    exit_code = EXIT_INTERNAL


class PartialSubmissionError(EtlError):
    """Some items could not be delivered; a rerun delivers them."""

    exit_code = EXIT_PARTIAL


class AmiliUnavailableError(EtlError):
    """Amili could not be reached (connection refused, timeouts, 5xx, rate-limited) after retries."""

    exit_code = EXIT_TEMPFAIL


class AmiliRejectedError(EtlError):
    """Amili answered a 4xx: the item is refused for a stated reason and is not retried."""

    exit_code = EXIT_DISCREPANCIES

    def __init__(self, message: str, status: int, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
