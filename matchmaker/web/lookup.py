"""Loading the object a URL names, or answering 404.

Another organisation's objects answer 404, not 403, so their existence does not leak; the
ownership test is part of the SQL query, so nobody else's row is even loaded.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user

from matchmaker.extensions import db
from matchmaker.members.models import Site


def own_site(site_id: int) -> Site:
    """The site if it belongs to the logged-in member's organisation; 404 otherwise."""
    return db.first_or_404(sa.select(Site).where(
        Site.id == site_id, Site.organisation_id == current_user.organisation_id))
