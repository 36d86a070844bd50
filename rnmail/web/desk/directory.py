"""The desk's directory (``/desk/directory/``): organisations and their users.

- ``/desk/directory/?q=``: the organisations (name, code) and users (name, address) that
  hold the query (``search_directory``, as ``rnmail directory search``); without a query,
  the users whose access is blocked (``blocked_users``, as ``rnmail access blocked``).
- ``/desk/directory/organisations/{id}``: an organisation's card, its users and their access.
- ``/desk/directory/users/{id}``: a user's card (``rnmail.directory.cards``): organisation,
  type, access status and since when, when the key was sent, the history of the access
  status, their tickets; and the form that sets the status with a reason
  (``POST …/status``: ``change_access``, as ``rnmail directory set-status``, audited with
  the member and the client's address).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from rnmail.directory.cards import organisation_card, set_user_access, user_card
from rnmail.directory.people import search_directory
from rnmail.directory.unblock import blocked_users
from rnmail.errors import NotFound, RnmailError
from rnmail.i18n import N_
from rnmail.vocab import AccessState
from rnmail.web.desk.base import DeskBase, done
from rnmail.web.signin import Refused, path_id

RESULTS = 50  # entries a directory search lists
BLOCKED = 50  # blocked users the directory's first page lists
NO_ENTRY = N_("There is no such entry in the directory.")


def directory_page(session: Session, query: str) -> dict[str, Any]:
    """What ``query`` finds, or the blocked users without one."""
    if not query:
        blocked = blocked_users(session)
        return {"q": query, "entries": [], "limit": RESULTS, "blocked": blocked[:BLOCKED],
                "blocked_count": len(blocked), "refusal": None}
    try:
        entries = search_directory(session, query, RESULTS)
    except RnmailError as error:  # nothing to search for
        return {"q": query, "entries": [], "limit": RESULTS, "blocked": [],
                "blocked_count": 0, "refusal": error}
    return {"q": query, "entries": entries, "limit": RESULTS, "blocked": [],
            "blocked_count": 0, "refusal": None}


class DirectoryPages(DeskBase):
    """``/desk/directory/``: search, an organisation's card, a user's card and their
    access."""

    notices: Mapping[str, str] = {
        "status-set": N_("The access status was changed."),
        "status-unchanged": N_("The user already had that access status: nothing changed."),
    }

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/directory/", self.directory)
        app.router.add_get(r"/desk/directory/organisations/{id:\d+}", self.organisation)
        app.router.add_get(r"/desk/directory/users/{id:\d+}", self.user)
        app.router.add_post(r"/desk/directory/users/{id:\d+}/status", self.set_status)

    async def directory(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        query = " ".join(request.query.get("q", "")[:200].split())

        def read(session: Session) -> dict[str, Any]:
            found = directory_page(session, query)
            error = found["refusal"]
            return {**found, "refusal": self.said(request, error) if error else None}

        return await self.show(request, signed, "directory.html.j2", read)

    async def organisation(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        org_id = path_id(request)
        try:
            return await self.show(request, signed, "organisation.html.j2",
                                   lambda session: {"card": organisation_card(session, org_id)})
        except NotFound:
            raise Refused(404, NO_ENTRY) from None

    async def user(self, request: web.Request) -> web.StreamResponse:
        signed = await self.signed_in(request)
        user_id = path_id(request)
        try:
            return await self.show(request, signed, "user.html.j2", lambda session: {
                "card": user_card(session, user_id), "states": list(AccessState)})
        except NotFound:
            raise Refused(404, NO_ENTRY) from None

    async def set_status(self, request: web.Request) -> web.StreamResponse:
        """``rnmail directory set-status`` from the user's card."""
        signed, form = await self.submitted(request)
        user_id = path_id(request)
        state, reason = form.text("state").strip(), form.text("reason").strip()
        try:
            changed = await self.write(
                request, signed, "directory-status",
                lambda session, _actor: set_user_access(session, user_id, state, reason,
                                                        signed.operator[:64]),
                {"user": user_id, "state": state[:32], "reason": reason[:500]})
        except NotFound:
            raise Refused(404, NO_ENTRY) from None
        except RnmailError as error:
            raise Refused(400, self.said(request, error)) from None
        return done(f"/desk/directory/users/{user_id}",
                    "status-set" if changed["changed"] else "status-unchanged")
