"""Statistical disclosure control for aggregates shown to providers.

DESIGN.md section 5: no count below 5 members; no cell where one member holds more than 75 % of
the volume. Suppressed cells show no number at all (not even a rounded one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MIN_MEMBERS = 5
MAX_DOMINANCE = Decimal("0.75")


@dataclass(frozen=True)
class Cell:
    members: int | None  # None when suppressed
    volume: Decimal | None
    suppressed: bool


def disclose(volumes_by_member: Iterable[Decimal]) -> Cell:
    """Aggregate one cell (volume per member) under the disclosure rule.

    >>> disclose([Decimal(1)] * 5)
    Cell(members=5, volume=Decimal('5'), suppressed=False)
    >>> disclose([Decimal(10), Decimal(1), Decimal(1), Decimal(1), Decimal(1)]).suppressed
    True
    """
    volumes = [v for v in volumes_by_member if v > 0]
    total = sum(volumes, Decimal(0))
    if len(volumes) < MIN_MEMBERS or (total > 0 and max(volumes) > MAX_DOMINANCE * total):
        return Cell(None, None, True)
    return Cell(len(volumes), total, False)
