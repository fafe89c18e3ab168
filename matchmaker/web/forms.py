"""Form pieces shared by the feature packages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, FloatField, IntegerField, SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import TextInput

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


_THOUSANDS_DOTS = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+(,\d+)?$")


def parse_local_number(text: str) -> Decimal:
    """Parse a number as Dutch and English users type it.

    ``12,5`` and ``12.5`` are twelve and a half; ``1.200`` and ``1.234,5`` use dots as
    thousands separators (Dutch), so ``1.200`` is twelve hundred. Raises ``ValueError``.
    """
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if _THOUSANDS_DOTS.match(cleaned):
        cleaned = cleaned.replace(".", "")
    cleaned = cleaned.replace(",", ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(cleaned) from exc
    if not number.is_finite():
        raise ValueError(cleaned)
    return number


class LocalDecimalField(DecimalField):
    """A decimal field that accepts Dutch notation (``12,5``, ``1.200``) and shows it back.

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
        if isinstance(self.data, Decimal | int | float):
            text = format(Decimal(str(self.data)).normalize(), "f")
            return text.replace(".", ",") if str(get_locale()) == "nl" else text
        return ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:  # not in the form data at all: keep the default
            return
        self.data = None
        if str(valuelist[0]).strip() == "":
            return
        try:
            self.data = parse_local_number(str(valuelist[0]))
        except ValueError as exc:
            raise ValueError(_l("Enter a number, for example 12,5.")) from exc


class LocalFloatField(FloatField):
    """A float field that accepts Dutch notation; NaN and infinity are refused."""

    widget = TextInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal"})
        super().__init__(*args, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, int | float):
            text = f"{self.data:g}" if abs(self.data) < 1e15 else str(self.data)
            return text.replace(".", ",") if str(get_locale()) == "nl" else text
        return ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:  # not in the form data at all: keep the default
            return
        self.data = None
        if str(valuelist[0]).strip() == "":
            return
        try:
            self.data = float(parse_local_number(str(valuelist[0])))
        except ValueError as exc:
            raise ValueError(_l("Enter a number, for example 12,5.")) from exc


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
