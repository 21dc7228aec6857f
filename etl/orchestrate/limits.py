"""Run tags and the Dagster instance's concurrency limits: one run per creditor, so many runs per Amili API family.

Plain Python (no dagster): the tags go on every run the orchestrator starts; the limits belong in the instance's
dagster.yaml, which `python -m etl.orchestrate.limits` prints from the registry's orchestration.toml.
"""

from __future__ import annotations

import sys
from typing import Any

from etl.orchestrate.registry import FAMILIES, CreditorEntry, Settings

__all__ = ["CREDITOR_TAG", "family_tag", "run_tags", "concurrency_settings", "concurrency_yaml"]

CREDITOR_TAG = "amili-etl/creditor"


def family_tag(family: str) -> str:
    """The run tag that marks a run talking to one Amili API family ("arm", "collection", "ada")."""
    return f"amili-etl/api-{family}"


def run_tags(entry: CreditorEntry) -> dict[str, str]:
    """The tags of every run for this creditor: its name (one run per creditor) and each API family it uses."""
    return {CREDITOR_TAG: entry.name, **{family_tag(f): "true" for f in entry.families}}


def concurrency_settings(settings: Settings) -> dict[str, Any]:
    """The `concurrency:` block of dagster.yaml: at most one run per creditor (per unique value of its tag), and at
    most [pools] <family> runs at once that talk to each Amili API family (a run holds every family it uses)."""
    limits: list[dict[str, Any]] = [{"key": CREDITOR_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    limits += [{"key": family_tag(f), "limit": settings.pools[f]} for f in FAMILIES]
    return {"runs": {"tag_concurrency_limits": limits}}


def concurrency_yaml(settings: Settings) -> str:
    """concurrency_settings as dagster.yaml text."""
    lines = ["concurrency:", "  runs:", "    tag_concurrency_limits:"]
    for limit in concurrency_settings(settings)["runs"]["tag_concurrency_limits"]:
        lines.append(f"      - key: \"{limit['key']}\"")
        if "value" in limit:
            lines.append("        value:")
            lines.append("          applyLimitPerUniqueValue: true")
        lines.append(f"        limit: {limit['limit']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the dagster.yaml concurrency block for the registry in AMILI_ETL_REGISTRY."""
    from etl.errors import EtlError
    from etl.orchestrate.registry import load_settings, registry_path_from_env

    try:
        sys.stdout.write(concurrency_yaml(load_settings(registry_path_from_env())))
    except EtlError as exc:
        print(f"amili-etl: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
