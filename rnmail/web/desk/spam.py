"""The desk's spam (``/desk/spam``): mail held as spam, to release or delete.

- ``/desk/spam``: the held mail, newest first (``list_spam``, as ``rnmail spam list``):
  when, from whom, subject, why; a button to release and one to delete each.
- ``POST /desk/spam/{id}/release``: processed normally, once (``release_spam``, as
  ``rnmail spam release``); ``POST /desk/spam/{id}/delete``: gone with its raw mail
  (``delete_spam``, as ``rnmail spam delete``). Both audited with the member.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.ingest.spam import delete_spam, list_spam, release_spam, remove_raw
from rnmail.web.desk.base import DeskBase, done
from rnmail.web.signin import Refused, path_id

LISTED = 200  # held mails the page lists
NO_SPAM = N_("There is no such held mail, or it was already released or deleted.")


class SpamPages(DeskBase):
    """``/desk/spam``: held mail, released or deleted by a member."""

    notices: Mapping[str, str] = {
        "spam-released": N_("The mail was released and processed like any other."),
        "spam-deleted": N_("The mail was deleted."),
    }

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/spam", self.spam)
        app.router.add_post(r"/desk/spam/{id:\d+}/release", self.release_spam)
        app.router.add_post(r"/desk/spam/{id:\d+}/delete", self.delete_spam)

    async def spam(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)

        def read(session: Session) -> dict[str, Any]:
            return {"held": list_spam(session, limit=LISTED), "limit": LISTED}

        return await self.show(request, signed, "spam.html.j2", read)

    async def release_spam(self, request: web.Request) -> web.StreamResponse:
        signed, _form = await self.submitted(request)
        spam_id = path_id(request)
        try:
            await self.write(request, signed, "spam-release", lambda session, _actor:
                             release_spam(session, self.config, spam_id, signed.operator[:64]),
                             {"spam": spam_id})
        except (NotFound, RnmailError):
            raise Refused(409, NO_SPAM) from None
        return done("/desk/spam", "spam-released")

    async def delete_spam(self, request: web.Request) -> web.StreamResponse:
        signed, _form = await self.submitted(request)
        spam_id = path_id(request)
        try:
            path: Path | None = await self.write(
                request, signed, "spam-delete", lambda session, _actor:
                delete_spam(session, self.config, spam_id, signed.operator[:64]),
                {"spam": spam_id})
        except (NotFound, RnmailError):
            raise Refused(409, NO_SPAM) from None
        remove_raw(path)  # after the commit
        return done("/desk/spam", "spam-deleted")
