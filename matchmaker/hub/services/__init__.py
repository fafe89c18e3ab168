"""Energy hubs for coordinators: choose the sites and collect consent (``hubs``), analyse as a
job (``analysis``), the charts (``charts``), the dossier for the grid operator (``dossier``)
and the shared battery as a group buy (``battery``). This module re-exports what the edges use.
"""

from __future__ import annotations

from matchmaker.hub.services.analysis import (
    STAGES,
    compute_analysis,
    consent_changed,
    execute_analysis,
    latest_analysis,
    participant_names,
    start_analysis,
)
from matchmaker.hub.services.hubs import (
    MAX_SITES,
    add_site,
    bundle_around,
    create_hub,
    find_site,
    hubs,
    member_rows,
    remove_site,
    require_staff,
    set_consent,
    site_hubs,
    sites_in,
    update_parameters,
)

__all__ = [
    "MAX_SITES", "STAGES", "add_site", "bundle_around", "compute_analysis", "consent_changed",
    "create_hub", "execute_analysis", "find_site", "hubs", "latest_analysis", "member_rows",
    "participant_names", "remove_site", "require_staff", "set_consent", "site_hubs", "sites_in",
    "start_analysis", "update_parameters",
]
