"""The demo's fixed names, shared by its loaders (matchmaker.demo, campaigns.demo, fibre.demo):
the accounts and their password, the seed, the business parks and the parts of company names."""

from __future__ import annotations

from dataclasses import dataclass

from matchmaker.auth.models import Role

DEMO_PASSWORD = "assen-demo-2026"
DEMO_ACCOUNTS = {
    Role.MEMBER: "lid@demo.example",
    Role.COORDINATOR: "coordinator@demo.example",
    Role.PROVIDER: "aanbieder@demo.example",
    Role.ADMIN: "beheer@demo.example",
}
SEED = 20261129


@dataclass(frozen=True)
class Park:
    name: str
    kring: str
    outline: list[tuple[float, float]]  # RD New
    postcode4: int
    streets: tuple[str, ...]


PARKS = (
    Park("Messchenveld", "Zuid-West",
         [(230700, 553100), (232700, 553000), (232900, 554300), (231900, 554800),
          (230800, 554500)], 9406,
         ("Transportweg", "Dieselweg", "Ambachtsweg", "Handelsweg", "Smederijweg")),
    Park("Assen-Zuid", "Zuid-West",
         [(233000, 551900), (234700, 552000), (234600, 553300), (233100, 553200)], 9405,
         ("Industrieweg", "Energieweg", "Vlasakkerweg", "Zeemanstraat")),
    Park("Industrieterrein Noord", "Noord",
         [(233500, 558900), (235500, 559000), (235400, 560400), (234200, 560600),
          (233600, 560200)], 9403,
         ("Europaweg", "Graanweg", "Havenkade", "Kanaalstraat", "Stuwweg")),
    Park("Stadsbedrijvenpark", "Stadsbedrijvenpark",
         [(232500, 556200), (233700, 556250), (233650, 557450), (232550, 557400)], 9401,
         ("Werkplaatsstraat", "Drukkerijweg", "Ateliersingel")),
)
COMPANY_FIRST = ("Drentse", "Noordelijke", "Hunze", "Brink", "Van der Veen", "De Vries",
                 "Bakker", "Mulder", "Assen", "Drenthe", "Kloosterveen", "Lonneker", "Smit",
                 "Oosting", "Hofstede", "Bos", "Kuipers", "Meijer", "Zwiers", "TT")
COMPANY_SECOND = ("Metaalbewerking", "Transport", "Installatietechniek", "Bouw", "Accountants",
                  "Drukkerij", "Logistiek", "Autoschade", "Houtbewerking", "ICT", "Koeltechniek",
                  "Groothandel", "Bakkerij", "Elektro", "Schilders", "Advies", "Verpakkingen",
                  "Machinebouw", "Dakwerken", "Catering")
