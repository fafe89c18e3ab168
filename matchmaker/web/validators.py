"""The one set of input checks every form and upload uses (issue 13, class 6: no input gives
a 500).

- **Dates**: :func:`plausible_date` (a date field between :data:`EARLIEST_YEAR` and
  :data:`LATEST_YEAR`; 1600-01-01 and 9999-12-31 are typing accidents or attacks).
- **Numbers**: every number field is read by ``web.forms`` (:func:`~matchmaker.web.forms.parse_number`:
  no exponent, NaN or infinity) and refused beyond :data:`MAX_NUMBER` unless the form gives a
  narrower :class:`~matchmaker.web.forms.InRange`; every stored number is checked once more
  before a flush (``models.stored_value_problem``: finite, in its column's range).
- **Page numbers**: :func:`matchmaker.web.paging.page_number`.
- **Geometry and other JSON**: :func:`bounded_json` (size and nesting refused before parsing,
  so a polygon nested 50,000 levels deep is an error message, not a RecursionError).
- **Text**: longer than its column is refused before a flush on SQLite as on PostgreSQL
  (``models.stored_value_problem``); forms say the limit with ``Length``.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext as _
from wtforms.validators import ValidationError

#: Dates that a person can mean in this service: contracts, deadlines, offers (the message
#: below says these years).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
#: No amount in any form is larger (a province's yearly kWh is about 1e10).
MAX_NUMBER = 10**12
#: GeoJSON is nested at most 6 deep (FeatureCollection > features > Feature > geometry >
#: coordinates > ring > position); allow a little more, never thousands.
MAX_JSON_DEPTH = 12


def plausible_date(form: Any, field: Any) -> None:
    """A date (or date and time) from the year 2000 to 2100."""
    if field.data is not None and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(_("Enter a date between 2000 and 2100."))


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether brackets in ``text`` nest deeper than ``max_depth`` (strings skipped); a
    linear scan with no recursion, so it is safe on any input."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


def bounded_json(text: str | bytes, *, max_chars: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON that a user sent, refusing (``ValueError``) text longer than ``max_chars``
    or nested deeper than ``max_depth`` before the parser sees it; NaN and infinity, which
    JSON does not have, are refused too."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if len(text) > max_chars:
        raise ValueError("too long")
    if json_depth_exceeds(text, max_depth):
        raise ValueError("nested too deep")

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number")

    return json.loads(text, parse_constant=refuse_constant)
