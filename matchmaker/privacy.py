"""Statistical disclosure control for aggregates shown to providers (and to members).

DESIGN.md section 5: no count below 5 members; no cell where one member holds more than 75 % of
the volume. Suppressed cells show no number at all (not even a rounded one).

For fibre demand checks the same rule must also hold for what can be *derived* from the numbers
shown: subtracting overlapping areas (A, B and A ∪ B) or two days of one area. The functions
below state that as a rule on *cells*, the pieces of the map cut by every area that numbers are
published for (each cell is inside exactly the same areas), for one stage (interest or
committed):

1. A cell's value on a day may be used in a published number only if its members, and the
   members whose volume changed between that day and *every* other day on which the cell was
   used, each form a safe group (:func:`group_is_safe`): at least 5 members with no one above
   75 %, or nobody at all.
2. An area's number on a day is published only if every cell inside it may be used that day.

Every published number is then a sum of cell values, and any sum or difference of published
numbers (other areas, other days) is a sum and difference of safe cell values and safe cell
changes: subtracting cannot isolate fewer than five members. The fibre service applies the
rule to the whole history (``matchmaker/fibre/services.py``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

MIN_MEMBERS = 5
MAX_DOMINANCE = Decimal("0.75")
_SHARE = Fraction(MAX_DOMINANCE)  # 3/4: compared exactly, as den × largest ≤ num × total


def _dominated(largest: Any, total: Any) -> Any:
    """Whether one member holds more than ``MAX_DOMINANCE`` of the total (exact; works on
    numbers and on numpy arrays alike). The only place the dominance rule is written."""
    return largest * _SHARE.denominator > total * _SHARE.numerator


@dataclass(frozen=True)
class Cell:
    members: int | None  # None when suppressed
    volume: Decimal | None
    suppressed: bool


def disclose(volumes_by_member: Iterable[Decimal]) -> Cell:
    """Aggregate one cell (volume per member) under the disclosure rule.

    >>> disclose([Decimal(1)] * 5)
    Cell(members=5, volume=Decimal('5'), suppressed=False)
    >>> disclose([Decimal(13), Decimal(1), Decimal(1), Decimal(1), Decimal(1)]).suppressed
    True
    """
    volumes = [v for v in volumes_by_member if v > 0]
    total = sum(volumes, Decimal(0))
    if len(volumes) < MIN_MEMBERS or _dominated(max(volumes), total):
        return Cell(None, None, True)
    return Cell(len(volumes), total, False)


def groups_are_safe(volumes: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Per row of member volumes (rows × members, integers): is the group safe to aggregate?

    Safe: nobody (all zero), or at least ``MIN_MEMBERS`` members with a volume and none with
    more than 75 % of the total (compared exactly).

    >>> groups_are_safe([[0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0],
    ...                  [13, 1, 1, 1, 1, 0]]).tolist()
    [True, True, False, False]
    """
    rows = np.abs(np.atleast_2d(np.asarray(volumes, dtype=np.int64)))
    members = (rows > 0).sum(axis=1)
    total = rows.sum(axis=1)
    largest = rows.max(axis=1, initial=0)
    return (members == 0) | ((members >= MIN_MEMBERS) & ~_dominated(largest, total))


def group_is_safe(volumes_by_member: Mapping[Hashable, int]) -> bool:
    """:func:`groups_are_safe` for one group given as ``{member: volume}``.

    >>> group_is_safe({}), group_is_safe({"a": 1, "b": 1}), group_is_safe(dict.fromkeys("abcde", 2))
    (True, False, True)
    """
    return bool(groups_are_safe([list(volumes_by_member.values()) or [0]])[0])


def may_use(state: npt.ArrayLike, used: npt.ArrayLike) -> bool:
    """Whether a cell's ``state`` (volume per member) may be used next to the states it was
    used with before (``used``: rows × the same members): the state itself and its change
    against every earlier state must each be a safe group.

    >>> may_use([1, 1, 1, 1, 1, 0], [[1, 1, 1, 1, 1, 1]])   # one member left: no
    False
    >>> may_use([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [[1, 1, 1, 1, 1, 0, 0, 0, 0, 0]])
    True
    """
    current = np.asarray(state, dtype=np.int64)
    before = np.asarray(used, dtype=np.int64).reshape(-1, current.size)
    rows = np.vstack([current[None, :], before - current[None, :]])
    return bool(groups_are_safe(rows).all())


def history_is_safe(states: Sequence[npt.ArrayLike]) -> bool:
    """Whether every state and every difference of two states is a safe group (all pairs)."""
    if not len(states):
        return True
    matrix = np.unique(np.asarray(states, dtype=np.int64), axis=0)
    if not groups_are_safe(matrix).all():
        return False
    for i in range(len(matrix) - 1):
        if not groups_are_safe(matrix[i + 1:] - matrix[i]).all():
            return False
    return True


def usable_days(states: Sequence[npt.ArrayLike]) -> list[bool]:
    """Walk states in order (oldest first) and keep each one that :func:`may_use` allows next
    to those kept before it; returns which were kept.

    >>> usable_days([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 1]])
    [True, False, True]
    """
    kept: list[np.ndarray] = []
    result = []
    for state in states:
        row = np.asarray(state, dtype=np.int64)
        ok = may_use(row, np.asarray(kept).reshape(-1, row.size) if kept else
                     np.zeros((0, row.size), np.int64))
        if ok:
            kept.append(row)
        result.append(ok)
    return result
