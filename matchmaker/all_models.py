"""Import every model module once, so the metadata is complete."""

from matchmaker.api.models import ApiToken
from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import User
from matchmaker.caching import ChangeCounter
from matchmaker.campaigns.models import (
    Bid,
    BidTier,
    Campaign,
    CampaignInvitation,
    CampaignTier,
    Offer,
    OwnerConsentToken,
    Participation,
    SupplierInvitation,
)
from matchmaker.demand.models import Demand, ParkDemandPublication, Product, ProviderConsent
from matchmaker.energy.models import EnergyAsset, ExpansionPlan, GridConnection, Match, MatchRun
from matchmaker.fibre.models import (
    FibreCheck,
    FibreCheckRegion,
    FibreExclusion,
    FibreProgressCache,
    FibreProviderCache,
    FibrePublication,
    FibreRegion,
    FibreSnapshot,
    FibreSnapshotUnit,
)
from matchmaker.hub.models import Hub, HubAnalysis, HubSite
from matchmaker.mail.models import Outbox
from matchmaker.members.models import Organisation, Site
from matchmaker.register.models import AddressRecord, Area

__all__ = [
    "AddressRecord", "ApiToken", "Area", "AuditLog", "Bid", "BidTier", "Campaign",
    "CampaignInvitation", "CampaignTier", "ChangeCounter", "Demand", "EnergyAsset",
    "ExpansionPlan", "FibreCheck", "FibreCheckRegion", "FibreExclusion", "FibreProgressCache",
    "FibreProviderCache", "FibrePublication", "FibreRegion", "FibreSnapshot",
    "FibreSnapshotUnit", "GridConnection", "Hub", "HubAnalysis", "HubSite", "Match", "MatchRun",
    "Offer", "Organisation", "Outbox", "OwnerConsentToken", "ParkDemandPublication",
    "Participation", "Product", "ProviderConsent", "Site",
    "SupplierInvitation", "User",
]
