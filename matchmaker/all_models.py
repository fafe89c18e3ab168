"""Import every model module once, so the metadata is complete."""

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import User
from matchmaker.campaigns.models import (
    Bid, BidTier, Campaign, CampaignInvitation, CampaignTier, Offer, OwnerConsentToken,
    Participation, SupplierInvitation,
)
from matchmaker.demand.models import Demand, Product
from matchmaker.energy.models import EnergyAsset, Match, MatchRun
from matchmaker.mail.models import Outbox
from matchmaker.members.models import Organisation, Site
from matchmaker.register.models import AddressRecord, Area

__all__ = [
    "AddressRecord", "Area", "AuditLog", "Bid", "BidTier", "Campaign", "CampaignInvitation",
    "CampaignTier", "Demand", "EnergyAsset", "Match", "MatchRun", "Offer", "Organisation", "Outbox", "OwnerConsentToken",
    "Participation", "Product", "Site", "SupplierInvitation", "User",
]
