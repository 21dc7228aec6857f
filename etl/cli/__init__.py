"""The command line: `app` holds the group and the run commands; each other command module (ops, reconcile, resolve,
init) imports only `support` below it, and nothing in etl/ imports this package but `__main__` and the orchestrator."""

from etl.cli.app import cli, main

__all__ = ["cli", "main"]
