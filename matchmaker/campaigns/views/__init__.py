"""Group buy pages, one module per role (member, coordinator, supplier) on one blueprint.

Thin views: parse, load or 404, check, call one service, render or redirect. Refused actions
show their message with a 4xx.
"""

from __future__ import annotations

from matchmaker.campaigns.views import coordinator, member, supplier  # noqa: F401  (routes)
from matchmaker.campaigns.views.common import bp

__all__ = ["bp"]
