"""``matchmaker create-token EMAIL``: an API token for a provider account (shown once)."""

from __future__ import annotations

import click

from matchmaker.cli_support import InputError, _, transactional


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (shown in the admin list).")
@transactional
def create_token_command(email: str, name: str) -> None:
    """Issue an API token for the provider account EMAIL; the token is printed once."""
    from matchmaker.api.services import issue_token
    from matchmaker.auth.services import find_user

    user = find_user(email)
    if user is None:
        raise InputError(_("No account has e-mail address %(email)s.", email=email))
    _row, token = issue_token(user, actor=None, name=name)
    click.echo(_("API token for %(email)s (shown only now; store it safely):", email=user.email))
    click.echo(token)
