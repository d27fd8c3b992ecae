"""Goal rules that services and analytics share: attainment, the one formula of KPIS.md."""

from __future__ import annotations

from decimal import Decimal


def attainment(won: Decimal, target: Decimal | None) -> Decimal | None:
    """Goal attainment (KPIS.md): won revenue against the target; None without a target.

    The one formula behind the dashboard card, the team rows, the team view and Goals."""
    if not target:
        return None
    return Decimal(won) / Decimal(target)
