"""Numbers, amounts and moments in the user's language and time zone (Flask-Babel).

Every page, e-mail and message formats through these functions (registered as template
filters in :mod:`matchmaker.web.templating`), so neighbouring pages never disagree.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import format_currency, format_date, format_datetime, format_decimal


def number(value: Any, digits: int = 1) -> str:
    """A number in the user's locale (``1.234,5`` in Dutch), trailing zeros trimmed."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = value.normalize()
        places = max(-value.as_tuple().exponent, 0)  # type: ignore[operator]
        fmt = "#,##0" + ("." + "#" * min(places, 3) if places else "")
        return str(format_decimal(value, format=fmt))
    fmt = "#,##0" + ("." + "#" * digits if digits else "")
    return str(format_decimal(value, format=fmt))


def money(value: Decimal | None) -> str:
    """An amount in euros with cents: € 1.234,50."""
    return "–" if value is None else str(format_currency(value, "EUR"))


def unit_price(value: Decimal | None) -> str:
    """A unit price with up to four decimals: € 0,9512."""
    if value is None:
        return "–"
    return str(format_currency(value, "EUR", format="¤ #,##0.00##", currency_digits=False))


def when(value: datetime | None) -> str:
    """A moment in the user's time zone: 1 mei 2026, 17:00."""
    return "–" if value is None else str(format_datetime(value, "d MMMM y, HH:mm"))


def day(value: datetime | None) -> str:
    """A date in the user's time zone: 1 mei 2026."""
    return "–" if value is None else str(format_date(value, "d MMMM y"))
