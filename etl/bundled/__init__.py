"""Where the shipped mappings/ and sample_data/ live: beside the package in a checkout, inside it when installed."""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled_dir"]

_REPO_ROOT = Path(__file__).resolve().parents[2]
_INSTALLED = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The folder `mappings` or `sample_data`: the checkout's own (editable installs, tests) or the wheel's copy."""
    in_checkout = _REPO_ROOT / name
    if (_REPO_ROOT / "pyproject.toml").is_file() and in_checkout.is_dir():
        return in_checkout
    return _INSTALLED / name
