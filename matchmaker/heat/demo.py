"""Demo heat data: two heat sources, one in a viable cluster and one that needs neighbours."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.energy.models import AssetKind, EnergyAsset, ProfileSource
from matchmaker.extensions import db
from matchmaker.heat import services
from matchmaker.members.models import Site


def _add(site: Site, kind: AssetKind, mwh: float, temperature_c: float) -> None:
    db.session.add(EnergyAsset(site_id=site.id, kind=kind, annual_mwh=mwh,
                               temperature_c=temperature_c, source=ProfileSource.ESTIMATED,
                               share_name=True))
    db.session.flush()


def load_heat_demo() -> dict[str, int]:
    """A data centre whose neighbours use lots of heat (viable), and a process-heat source
    with only a few small users nearby (critical: the tipping list shows what it needs)."""
    sites = list(db.session.scalars(sa.select(Site).order_by(Site.id)))
    gap = services.DEFAULT_GAP_M
    busy = {s.id: sum(1 for o in sites if o.id != s.id and (o.x - s.x) ** 2 + (o.y - s.y) ** 2
                      <= (gap / 2) ** 2) for s in sites}
    # The viable cluster: the site with the most neighbours within half the gap.
    centre = max(sites, key=lambda s: (busy[s.id], -s.id))
    _add(centre, AssetKind.HEAT_SOURCE, 4000.0, 35.0)
    near = sorted((s for s in sites if s.id != centre.id),
                  key=lambda s: (s.x - centre.x) ** 2 + (s.y - centre.y) ** 2)[:6]
    for i, site in enumerate(near):
        _add(site, AssetKind.HEAT_SINK, 450.0 + 90.0 * i, 55.0 if i % 2 else 40.0)
    # The network that needs more: a source whose network comes out critical.
    taken = {centre.id, *(s.id for s in near)}
    heat_users = set(services.heat_sinks()["site_id"])
    for candidate in sorted(sites, key=lambda s: (busy[s.id], s.id)):
        if candidate.id in taken or candidate.id in heat_users:
            continue
        _add(candidate, AssetKind.HEAT_SOURCE, 1500.0, 70.0)
        analysis = services.analyse(max_gap_m=gap, with_tipping=False)
        row = analysis.sources[analysis.sources["site_id"] == candidate.id].iloc[0]
        network = analysis.networks.loc[int(row.network_id)]
        if (network["viability"] == "critical" and network["n_sinks"] >= 1
                and network["trench_length_m"] > 0):
            return {"sources": 2, "sinks": len(near)}
        db.session.delete(services._asset(candidate, AssetKind.HEAT_SOURCE))
        db.session.flush()
    return {"sources": 1, "sinks": len(near)}
