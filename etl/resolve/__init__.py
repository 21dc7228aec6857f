"""`amili-etl resolve`: act on breaks from filled report files (read, decide per row, carry out, record)."""

from etl.resolve.carry import ResolveResult, resolve_files

__all__ = ["ResolveResult", "resolve_files"]
