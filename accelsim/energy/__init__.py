"""Energy: reference tables (YAML, cited) and pricing of action counts."""

from accelsim.energy.pricing import ERT, ActionKey, apply_overrides, price
from accelsim.energy.table import EnergyTable, load_table

__all__ = ["ERT", "ActionKey", "EnergyTable", "apply_overrides", "load_table", "price"]
