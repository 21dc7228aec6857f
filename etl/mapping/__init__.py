"""Bank and ERP export layouts: load mappings/*.toml, apply them to text frames as polars expressions."""

from etl.mapping.apply import MissingColumnError, apply_mapping, check_columns, parse_date_expr, reference_in_text_expr
from etl.mapping.layout import (
    BANK_FIELDS,
    INVOICE_FIELDS,
    Layout,
    MappingSet,
    layout_from_dict,
    load_layout,
    load_mappings,
)

__all__ = [
    "Layout",
    "MappingSet",
    "load_mappings",
    "load_layout",
    "layout_from_dict",
    "apply_mapping",
    "check_columns",
    "parse_date_expr",
    "reference_in_text_expr",
    "MissingColumnError",
    "BANK_FIELDS",
    "INVOICE_FIELDS",
]
