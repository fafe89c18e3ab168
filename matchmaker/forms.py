"""Form pieces shared by the feature packages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from collections.abc import Iterable

from wtforms import DecimalField, FloatField, IntegerField, SelectChoice
from wtforms.validators import ValidationError


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select options from ``(value, label)`` pairs (WTForms 3.3 wants SelectChoice objects)."""
    return [SelectChoice(value, label) for value, label in pairs]


class LocalDecimalField(DecimalField):
    """A decimal field that accepts the Dutch decimal comma (``12,5``)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        text = str(valuelist[0]).strip().replace(" ", "")
        if "," in text and "." in text:  # 1.234,5 (Dutch thousands separator)
            text = text.replace(".", "")
        text = text.replace(",", ".")
        try:
            self.data = Decimal(text)
        except InvalidOperation as exc:
            self.data = None
            raise ValueError(_l("Enter a number, for example 12,5.")) from exc
        if not self.data.is_finite():
            self.data = None
            raise ValueError(_l("Enter a number, for example 12,5."))


class LocalFloatField(FloatField):
    """A float field that accepts the Dutch decimal comma; NaN and infinity are refused."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        text = str(valuelist[0]).strip().replace(" ", "")
        if "," in text and "." in text:
            text = text.replace(".", "")
        try:
            self.data = float(text.replace(",", "."))
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter a number, for example 12,5.")) from exc
        if self.data != self.data or self.data in (float("inf"), float("-inf")):
            self.data = None
            raise ValueError(_l("Enter a number, for example 12,5."))


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
