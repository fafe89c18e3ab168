"""Reading the forms of a page (stdlib HTML parser): action, method and fields with the values
a browser would send, so a test posts every form as a person would, then with one field
replaced."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> values sent
    kinds: dict[str, str] = field(default_factory=dict)  # name -> input type / select / textarea

    def data(self) -> dict[str, Any]:
        return {k: (v if len(v) != 1 else v[0]) for k, v in self.fields.items()
                if self.kinds.get(k) != "file"}


class FormParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.select: str | None = None
        self.select_first: str | None = None
        self.select_chosen = False
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.current = Form(action=a.get("action") or self.page_url,
                                method=(a.get("method") or "get").lower(),
                                enctype=a.get("enctype", ""))
            self.forms.append(self.current)
            return
        form = self.current
        if form is None or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            form.kinds.setdefault(name, "number" if kind == "number" or a.get("inputmode") in (
                "decimal", "numeric") else kind)
            if kind in ("checkbox", "radio"):
                form.fields.setdefault(name, [])
                if "checked" in a:
                    form.fields[name].append(a.get("value", "on"))
            elif kind not in ("submit", "button", "image", "reset"):
                form.fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select" and name:
            self.select, self.select_first, self.select_chosen = name, None, False
            form.kinds[name] = "select"
            form.fields.setdefault(name, [])
        elif tag == "option" and self.select:
            value = a.get("value", "")
            if self.select_first is None:
                self.select_first = value
            if "selected" in a:
                form.fields[self.select].append(value)
                self.select_chosen = True
        elif tag == "textarea" and name:
            self.textarea = name
            form.kinds[name] = "textarea"
            form.fields[name] = [""]

    def handle_data(self, data: str) -> None:
        if self.current is not None and self.textarea:
            self.current.fields[self.textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select" and self.select and self.current is not None:
            if not self.select_chosen and self.select_first is not None:
                self.current.fields[self.select].append(self.select_first)
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def forms_of(html: str, page_url: str) -> list[Form]:
    parser = FormParser(page_url)
    parser.feed(html)
    return parser.forms
