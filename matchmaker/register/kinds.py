"""The kinds of area, apart from the models so that the command line can offer them as choices
without importing SQLAlchemy (``matchmaker import-areas --help``)."""

from __future__ import annotations

from enum import StrEnum


class AreaKind(StrEnum):
    KRING = "kring"
    PARK = "park"
    POSTCODE4 = "postcode4"
    NEIGHBOURHOOD = "neighbourhood"
