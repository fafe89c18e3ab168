from __future__ import annotations

import click

from matchmaker.auth.roles import Role
from matchmaker.cli_support import InputError, _, transactional


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.COORDINATOR.value,
              show_default=True)
@click.option("--name", default="", help="Display name.")
@click.option("--organisation-kvk", default=None,
              help="KvK number of the organisation (required for members).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given.")
@transactional
def create_user_command(
    email: str, role: str, name: str, organisation_kvk: str | None, password: str
) -> None:
    """Create an account, typically for staff: coordinators, providers and admins."""
    import sqlalchemy as sa

    from matchmaker.auth.services import create_user
    from matchmaker.extensions import db
    from matchmaker.members.models import Organisation

    organisation = None
    if organisation_kvk:
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.kvk_number == organisation_kvk.strip())
        )
        if organisation is None:
            raise InputError(_("No organisation has KvK number %(kvk)s.", kvk=organisation_kvk))
    user = create_user(email, password, role=Role(role), name=name, organisation=organisation,
                       actor=None)
    click.echo(_("Created %(email)s with role %(role)s.", email=user.email, role=role))
