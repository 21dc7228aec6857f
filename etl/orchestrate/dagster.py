"""The Dagster code location: `dagster dev -m etl.orchestrate.dagster` with AMILI_ETL_REGISTRY set.

See docs/orchestration.md. Imported only by Dagster (and the [dagster] extra): `import etl` never imports dagster.
"""

from __future__ import annotations

from etl.orchestrate.definitions import build_definitions
from etl.orchestrate.registry import registry_path_from_env

__all__ = ["defs"]

defs = build_definitions(registry_path_from_env())
