"""Form pieces shared by the feature packages."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, IntegerField, SelectChoice
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import TextInput

from matchmaker.web.validators import MAX_NUMBER

#: What each kind of area is called (``register.models.AreaKind`` values).
AREA_KIND_LABELS = {
    "park": _l("business park"),
    "kring": _l("kring"),
    "postcode4": _l("postcode area"),
    "neighbourhood": _l("neighbourhood"),
}


def area_kind_label(kind: Any) -> str:
    value = getattr(kind, "value", kind)
    return str(AREA_KIND_LABELS.get(value, value))


def area_choices(areas: Iterable[Any]) -> list[SelectChoice]:
    """Select options for areas: "Messchenveld (business park)"."""
    return choices((a.id, f"{a.name} ({area_kind_label(a.kind)})") for a in areas)


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select options from ``(value, label)`` pairs (WTForms 3.3 wants SelectChoice objects)."""
    return [SelectChoice(value, label) for value, label in pairs]


class NumberError(ValueError):
    """Text that is not a number in the user's notation; ``message`` says why, translated."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_PLAIN = re.compile(r"^[-+]?[\d.,\u00a0\u202f' ]+$")


def parse_number(text: str, locale: Any = None) -> Decimal:
    """Parse a number as the user writes it in their language: the one place that does.

    Babel's ``parse_decimal`` in strict mode with the user's locale: in Dutch ``0,95`` is
    0.95 and ``1.200`` twelve hundred, while ``0.950`` is refused as ambiguous (did you mean
    0,95 or 950?); in English ``0.950`` is 0.95 and ``1,200`` twelve hundred. Exponents, NaN
    and infinity are refused. Raises :class:`NumberError` with a translated message.

    >>> parse_number("1.234,5", "nl")
    Decimal('1234.5')
    """
    locale = locale or get_locale() or "nl"
    cleaned = text.strip()
    if not cleaned or not _PLAIN.match(cleaned) or not any(c.isdigit() for c in cleaned):
        raise NumberError(str(_("Enter a number, for example %(example)s.",
                                example=format_decimal(Decimal("12.5"), locale=locale))))
    try:
        return Decimal(parse_decimal(cleaned, locale=locale, strict=True))
    except NumberFormatError as err:
        options = [format_decimal(parse_decimal(s, locale=locale), format="#,##0.######",
                                  locale=locale) for s in getattr(err, "suggestions", None) or []]
        if options:
            raise NumberError(str(_("%(text)s can be read in two ways: did you mean %(options)s?",
                                    text=cleaned, options=_(" or ").join(options)))) from err
        raise NumberError(str(_("Enter a number, for example %(example)s.",
                                example=format_decimal(Decimal("12.5"), locale=locale)))) from err


def show_number(value: Any, locale: Any = None) -> str:
    """A number as :func:`parse_number` reads it back (grouped, up to six decimals)."""
    return str(format_decimal(Decimal(str(value)).normalize(), format="#,##0.######",
                              locale=locale or get_locale() or "nl"))


def too_large() -> str:
    """Every number field refuses more than ``MAX_NUMBER`` (1e30 is a typing accident or an
    attack; forms narrow this with :class:`InRange`)."""
    return str(_("Enter a number up to %(high)s.", high=show_number(MAX_NUMBER)))


class LocalDecimalField(DecimalField):
    """A decimal field read with the user's locale (:func:`parse_number`) and shown back so.

    A text input with a decimal keyboard: ``type=number`` would refuse the decimal comma in
    some browsers.
    """

    widget = TextInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(*args, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, Decimal | int | float) and math.isfinite(self.data):
            return show_number(self.data)
        return ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:  # not in the form data at all: keep the default
            return
        self.data = None
        if str(valuelist[0]).strip() == "":
            return
        try:
            self.data = parse_number(str(valuelist[0]))
        except NumberError as exc:
            raise ValueError(exc.message) from exc
        if abs(self.data) > MAX_NUMBER:
            self.data = None
            raise ValueError(too_large())


class LocalFloatField(LocalDecimalField):
    """:class:`LocalDecimalField` whose value is a float (for the geo and energy inputs)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal):
            self.data = float(self.data)


class OptionalIntegerField(IntegerField):
    """An integer field whose empty value is ``None`` with a translated error message."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter a whole number.")) from exc
        if abs(self.data) > MAX_NUMBER:
            self.data = None
            raise ValueError(too_large())


class InRange:
    """A number from ``low`` to ``high`` (both included), the bounds written in the user's
    notation ("Vul een getal in van 1 tot 20.000."); an empty field is left to
    ``Optional``/``InputRequired``."""

    def __init__(self, low: float | None = None, high: float | None = None, *,
                 grouping: bool = True) -> None:
        self.low, self.high, self.grouping = low, high, grouping

    def __call__(self, form: Any, field: Any) -> None:
        value = field.data
        if value is None:
            return
        if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high):
            low, high = (None if b is None else show_number(b) if self.grouping else str(b)
                         for b in (self.low, self.high))
            if high is None:
                raise ValidationError(_("Enter a number from %(low)s.", low=low))
            if low is None:
                raise ValidationError(_("Enter a number up to %(high)s.", high=high))
            raise ValidationError(_("Enter a number from %(low)s to %(high)s.",
                                    low=low, high=high))


def number_required(form: Any, field: Any) -> None:
    """A number must be there: blank is refused, a field not in the query string keeps its
    default, and text that is no number keeps only the message that says so."""
    if field.data is None and not field.process_errors:
        raise StopValidation(_("Enter a number."))


def greater_than_zero(form: Any, field: Any) -> None:
    if field.data is not None and field.data <= 0:
        raise ValidationError(_l("Enter a quantity greater than 0."))


def not_negative(form: Any, field: Any) -> None:
    if field.data is not None and field.data < 0:
        raise ValidationError(_l("Enter 0 or more."))


def apply_service_error(form: Any, err: Any, message: str) -> bool:
    """Show a service error next to its field; returns False when the error has no field."""
    field = getattr(form, err.field, None) if err.field else None
    if field is None:
        return False
    field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
    return True
