"""The outbox page: what was queued and sent. Admins see every message with its links
withheld; in demo mode everyone logged in sees their own mail in full
(``matchmaker.mail.services``: who reads what)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from matchmaker.auth.models import Role
from matchmaker.extensions import db, login_manager
from matchmaker.mail.models import MailKind, Outbox
from matchmaker.mail.services import may_read, outbox_page, shown_text, smtp_configured
from matchmaker.web.paging import page_number

bp = Blueprint("mail", __name__, url_prefix="/admin/outbox")

#: What each kind of message is, on the outbox page.
KIND_LABELS = {
    MailKind.INVITATION: _l("invitation"),
    MailKind.REMINDER: _l("reminder"),
    MailKind.THRESHOLD: _l("threshold reached"),
    MailKind.OFFER: _l("offer"),
    MailKind.DECISION: _l("decision"),
    MailKind.CANCELLATION: _l("cancellation"),
    MailKind.CONSENT: _l("owner consent"),
    MailKind.ACCOUNT: _l("account"),
}


@bp.app_template_filter("mail_kind")
def mail_kind_filter(kind: MailKind) -> str:
    return str(KIND_LABELS[kind])


def outbox_access(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admins always; in demo mode every logged-in user, for their own mail (the demo has no
    real mailboxes)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != Role.ADMIN and not current_app.config["DEMO_MODE"]:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.route("")
@outbox_access
def outbox() -> str:
    result = outbox_page(page_number(), per_page=current_app.config["PAGE_SIZE"],
                         viewer=current_user)
    return render_template("mail/outbox.html", rows=result.items, total=result.total,
                           page=result.page, pages=max(result.pages, 1),
                           smtp=smtp_configured(current_app.config))


@bp.route("/<int:message_id>")
@outbox_access
def message(message_id: int) -> str:
    item = db.get_or_404(Outbox, message_id)
    if not may_read(item, current_user):
        abort(404)
    return render_template("mail/message.html", message=item,
                           body=shown_text(item, current_user))
