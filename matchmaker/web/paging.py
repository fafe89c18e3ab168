"""Page numbers from the query string, for every paginated page."""

from __future__ import annotations

from flask import abort, request

#: Far beyond any real list (50 per page: 5 million rows) and far below an offset overflow.
MAX_PAGE = 100_000


def page_number(name: str = "page") -> int:
    """The requested page (1 when absent); a page that is no whole number is a 400, a page
    past ``MAX_PAGE`` is the last page we would ever serve."""
    text = request.args.get(name, "").strip()
    if not text:
        return 1
    if not text.isdigit():
        abort(400)
    return min(max(int(text), 1), MAX_PAGE)
