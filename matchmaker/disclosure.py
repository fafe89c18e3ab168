"""What a member, supplier or provider may receive: the one door for every aggregate.

:mod:`matchmaker.privacy` states the disclosure rule (at least 5 members, none above 75 %, and
over time: a published number moves only by a safe group). This module applies it to what
people outside the association's staff get — pages (text *and* attributes), JSON, GeoJSON,
CSV, the API and e-mail — so that every such number passes the same three questions:

1. **Who is behind it, apart from what the viewer knows already?** A member knows its own
   volume; the others behind a total must form a safe group (:func:`shown_total`). With fewer
   than 5 other members, or one of them dominant, the total is hidden.
2. **What else does the page derive from it?** A hidden total hides everything computed from it
   as well: no percentage ("about 60 %" gives it away), no bar length, no tier reached, no
   "threshold reached", no data attribute, no scale that stretches with it (a group buy's
   ``HiddenProgress`` has no field to hold them).
3. **How may it move?** Numbers published daily (fibre demand checks, demand per park) take a
   new value only when the members whose volume changed since *every* value published before
   form a safe group themselves (:func:`may_publish`); otherwise the day is hidden and the
   last published value is never revised. Group buy progress is live by design (members
   watch the bundle grow); see the README for what that means.

Staff (coordinators, admins) see exact numbers and never go through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from matchmaker.privacy import MIN_MEMBERS, Cell, disclose, may_use

__all__ = ["MIN_MEMBERS", "Cell", "may_publish", "scaled", "shown_total"]

#: Volumes are compared over time in whole thousandths (kWp, m², MWh with three decimals).
SCALE = 1000


def shown_total(volumes_by_member: Mapping[Any, Decimal], *, known: Iterable[Any] = ()
                ) -> Cell:
    """A group's total as a viewer may see it: the total of everyone, shown only when the
    members the viewer does not know (``known``: its own organisation) form a safe group.

    >>> five = {m: Decimal(1) for m in "abcde"}
    >>> shown_total(five).volume, shown_total(five, known={"a"}).suppressed
    (Decimal('5'), True)
    """
    known = set(known)
    others = disclose(v for m, v in volumes_by_member.items() if m not in known)
    if others.suppressed:
        return Cell(None, None, True)
    volumes = [v for v in volumes_by_member.values() if v > 0]
    return Cell(len(volumes), sum(volumes, Decimal(0)), False)


def scaled(volumes: Iterable[Any]) -> npt.NDArray[np.int64]:
    """Volumes as whole thousandths, for the rule over time (which compares integers)."""
    return np.array([int((Decimal(str(v)) * SCALE).to_integral_value()) for v in volumes],
                    dtype=np.int64)


def may_publish(state: npt.ArrayLike, published: Sequence[npt.ArrayLike]) -> bool:
    """Whether a daily number may take the value of ``state`` (volume per member, in the order
    of the members of every earlier state in ``published``): the state itself and its change
    against every value published before must each be a safe group."""
    current = np.asarray(state, dtype=np.int64)
    before = (np.asarray(published, dtype=np.int64).reshape(-1, current.size) if len(published)
              else np.zeros((0, current.size), dtype=np.int64))
    members = int((current > 0).sum())
    if 0 < members < MIN_MEMBERS:
        return False
    return may_use(current, before)
