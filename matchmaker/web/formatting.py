"""Numbers, amounts and moments in the user's language and time zone (Flask-Babel).

Every page, e-mail and message formats through these functions (registered as template
filters in :mod:`matchmaker.web.templating`), so neighbouring pages never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import NumberPattern, parse_pattern
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale


@lru_cache(maxsize=32)
def _pattern(fmt: str) -> NumberPattern:
    return parse_pattern(fmt)


def _decimal(value: Any, fmt: str) -> str:
    """Babel's ``format_decimal`` in the user's locale, with the pattern parsed once: a table
    page formats hundreds of numbers, and parsing the pattern was most of the time."""
    locale = get_locale()
    if locale is None:  # outside a request or job that set one
        return str(format_decimal(value, format=fmt))
    return str(_pattern(fmt).apply(value, locale))


def number(value: Any, digits: int = 1) -> str:
    """A number in the user's locale (``1.234,5`` in Dutch), trailing zeros trimmed."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = value.normalize()
        places = max(-value.as_tuple().exponent, 0)  # type: ignore[operator]
        return _decimal(value, "#,##0" + ("." + "#" * min(places, 3) if places else ""))
    return _decimal(value, "#,##0" + ("." + "#" * digits if digits else ""))


def money(value: Decimal | None) -> str:
    """An amount in euros with cents: € 1.234,50."""
    return "–" if value is None else str(format_currency(value, "EUR"))


def unit_price(value: Decimal | None) -> str:
    """A unit price with up to four decimals: € 0,9512."""
    if value is None:
        return "–"
    return str(format_currency(value, "EUR", format="¤ #,##0.00##", currency_digits=False))


def when(value: datetime | None, *_ignored: Any) -> str:
    """A moment in the user's time zone: 1 mei 2026, 17:00 (1 May 2026, 17:00)."""
    return "–" if value is None else str(format_datetime(value, "d MMMM y, HH:mm"))


def day(value: date | datetime | None, *_ignored: Any) -> str:
    """A date (a moment's date in the user's time zone): 1 mei 2026."""
    return "–" if value is None else str(format_date(value, "d MMMM y"))


def weekday(value: date | datetime | None) -> str:
    """A date with its weekday: vrijdag 4 december 2026."""
    return "–" if value is None else str(format_date(value, "EEEE d MMMM y"))


def day_month(value: date | datetime | None) -> str:
    """A date within the current year, for lists and charts: 4 dec. (4 Dec)."""
    return "–" if value is None else str(format_date(value, "d MMM"))


def unit(product: Any) -> str:
    """A product's unit symbol in the user's language: aansl. / conn., MWh/jr / MWh/yr."""
    return str(product.symbol(str(get_locale() or "nl")))


def quantity(value: Any, product: Any) -> str:
    """A quantity with its unit in the user's language: 1.234,5 kWp."""
    return f"{number(value)}\u00a0{unit(product)}"


def localized(value: Any) -> Any:
    """A message parameter as the user reads it: decimals in their notation, moments and
    dates in their language and time zone (integers stay: they are years, house numbers and
    counts as often as amounts)."""
    if isinstance(value, float | Decimal):
        return number(value, 3)
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, date):
        return day(value)
    return value


#: Every filter the templates use for numbers, amounts, moments and units. Flask-Babel's own
#: ``datetimeformat``/``dateformat`` are pointed at ``when``/``day`` so no page formats a moment
#: another way.
FILTERS = {"number": number, "money": money, "unit_price": unit_price, "when": when, "day": day,
           "weekday": weekday, "day_month": day_month, "unit": unit, "quantity": quantity,
           "datetimeformat": when, "dateformat": day}
