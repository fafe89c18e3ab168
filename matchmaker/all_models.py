"""Import every model module once, so the metadata is complete."""

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import User
from matchmaker.demand.models import Demand, Product
from matchmaker.members.models import Organisation, Site
from matchmaker.register.models import AddressRecord, Area

__all__ = ["AddressRecord", "Area", "AuditLog", "Demand", "Organisation", "Product", "Site", "User"]
