"""Pricing of action counts: energy = sum(count x price), per component.

Chips only count actions, keyed ``(component, action)``; an energy reference table (ERT) maps the
same keys to pJ. Re-pricing with another table or node never re-simulates.
"""

from __future__ import annotations

from collections.abc import Mapping

from accelsim.errors import EnergyError

ActionKey = tuple[str, str]
ERT = dict[ActionKey, float]


def apply_overrides(ert: ERT, overrides: Mapping[str, float]) -> ERT:
    """Replace ERT entries by ``"component:action"`` keys (a chip preset's paper figures)."""
    out = dict(ert)
    for key, pj in overrides.items():
        comp, sep, action = key.partition(":")
        if not sep:
            raise EnergyError(f"ert override {key!r}: expected 'component:action'")
        out[(comp, action)] = float(pj)
    return out


def price(action_counts: Mapping[ActionKey, float], ert: Mapping[ActionKey, float]) -> dict[str, float]:
    """Energy in pJ per component. Every counted action must have a price (zero counts excepted)."""
    energy: dict[str, float] = {}
    for (comp, action), count in sorted(action_counts.items()):
        if not count:
            continue
        if (comp, action) not in ert:
            raise EnergyError(f"no energy price for action {comp}:{action}; add it to the chip's "
                              f"energy_reference or the table's ert_overrides")
        energy[comp] = energy.get(comp, 0.0) + float(count) * float(ert[(comp, action)])
    return energy
