"""URL converters for every route."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

#: The largest id a URL may name: ids are 32-bit integers on both databases.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a positive 32-bit id, so ``/sites/99999999999999999999``
    is a 404 from the router instead of an overflow error in the database."""

    def __init__(self, map: object, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]
