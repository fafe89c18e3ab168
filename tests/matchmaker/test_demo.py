import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from matchmaker.auth.models import User
from matchmaker.cli import main
from matchmaker.demand.models import Demand, Product
from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from matchmaker.extensions import db
from matchmaker.members.models import Organisation
from matchmaker.register.models import AddressRecord, Area


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_demo_data_loads_once_and_covers_every_product(base_app, app, auth):
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: app)
    first = runner.invoke(main, ["demo"], obj=info)
    assert first.exit_code == 0, first.output
    assert 1400 <= count(AddressRecord) <= 1700
    assert 140 <= count(Organisation) <= 160
    assert count(Area) == 8
    per_product = dict(db.session.execute(
        sa.select(Product.code, sa.func.count(Demand.id)).join(Demand).group_by(Product.code)).all())
    assert set(per_product) == {"solar_roof", "insulation", "fibre", "shared_heat"}
    assert min(per_product.values()) >= 10

    second = runner.invoke(main, ["demo"], obj=info)
    assert second.exit_code == 0 and count(Organisation) <= 160

    emails = set(db.session.scalars(sa.select(User.email).where(User.is_demo.is_(True))))
    assert emails == set(DEMO_ACCOUNTS.values())
    # Demo credentials are refused outside demo mode, and work in it.
    assert auth.login(DEMO_ACCOUNTS["member"], DEMO_PASSWORD).status_code == 422
    base_app.config["DEMO_MODE"] = True
    try:
        assert auth.login(DEMO_ACCOUNTS["member"], DEMO_PASSWORD).status_code == 302
        assert auth.client.get("/dashboard").status_code == 200
    finally:
        base_app.config["DEMO_MODE"] = False
