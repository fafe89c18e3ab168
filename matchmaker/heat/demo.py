"""Demo heat data: two heat sources, one in a viable cluster and one that needs neighbours."""

from __future__ import annotations

import math

import sqlalchemy as sa

from matchmaker.energy.models import AssetKind, EnergyAsset, ProfileSource
from matchmaker.extensions import db
from matchmaker.heat import services
from matchmaker.members.models import Site


def _add(site: Site, kind: AssetKind, mwh: float, temperature_c: float) -> EnergyAsset:
    asset = EnergyAsset(site_id=site.id, kind=kind, annual_mwh=mwh, temperature_c=temperature_c,
                        source=ProfileSource.ESTIMATED, share_name=True)
    db.session.add(asset)
    db.session.flush()
    return asset


def _distance(a: Site, b: Site) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def load_heat_demo(member_site: Site) -> dict[str, int]:
    """A data centre next to the demo member, whose neighbours (the member included) use lots
    of heat: a viable network. And, far away, a process-heat source with only a few small users
    nearby: a critical network, with the tipping list of what it needs."""
    sites = list(db.session.scalars(sa.select(Site).order_by(Site.id)))
    gap = services.DEFAULT_GAP_M
    others = sorted((s for s in sites if s.id != member_site.id),
                    key=lambda s: _distance(s, member_site))
    centre = others[0]
    _add(centre, AssetKind.HEAT_SOURCE, 4000.0, 35.0)
    cluster = [member_site, *others[1:6]]
    for i, site in enumerate(cluster):
        _add(site, AssetKind.HEAT_SINK, 450.0 + 90.0 * i, 55.0 if i % 2 else 40.0)

    heat_users = set(services.heat_sinks()["site_id"])
    far = [s for s in sites if _distance(s, member_site) > 3 * gap and s.id not in heat_users]
    for candidate in sorted(far, key=lambda s: s.id):
        source = _add(candidate, AssetKind.HEAT_SOURCE, 1500.0, 70.0)
        analysis = services.analyse(max_gap_m=gap, with_tipping=False)
        row = analysis.sources[analysis.sources["site_id"] == candidate.id].iloc[0]
        network = analysis.networks.loc[int(row.network_id)]
        if (network["viability"] == "critical" and network["n_sinks"] >= 1
                and network["trench_length_m"] > 0):
            return {"sources": 2, "sinks": len(cluster)}
        db.session.delete(source)
        db.session.flush()
    return {"sources": 1, "sinks": len(cluster)}
