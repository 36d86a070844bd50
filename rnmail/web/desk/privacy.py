"""The desk's privacy page (``/desk/privacy``): a person's data export (GDPR Art. 15) as a
zip download, and their erasure (Art. 17) after a confirmation step — the core functions
of ``rnmail privacy export`` and ``privacy erase``.

Only the privacy officers (``staff.privacy_officer``, set by ``rnmail staff privacy EMAIL
--grant``, audited) may open it: anyone else gets a 403, and the menu shows the page only
to them (read once per page, with the page's other reads). Both acts are audited
as the desk's other changes (``desk-privacy-export``, ``desk-privacy-erase``, with the
client's address) under the person's keyed hash, never their address; the erasure also
records its own ``privacy-erase`` entry, as on the command line.

The erasure is two steps: the form shows what was found (counts, nothing of the person's
data beyond what the officer typed) and asks for the confirmation; only the confirmed
form, with its CSRF token, erases.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from types import MappingProxyType
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from rnmail.auth import sessions
from rnmail.errors import RnmailError
from rnmail.i18n import N_
from rnmail.models import Staff
from rnmail.privacy.erase import erase_person
from rnmail.privacy.export import export_zip
from rnmail.privacy.person import Person, find_holdings, person_of
from rnmail.tickets.history import Actor
from rnmail.util.blobs import BlobStore
from rnmail.web.desk.base import DeskBase, done
from rnmail.web.signin import FormData, Refused, read

OFFICER = web.RequestKey("privacy_officer", bool)  # set at every page (``signed_in``)
NOT_AN_OFFICER = N_("This page is for the privacy officers: an administrator makes a "
                    "staff member one with rnmail staff privacy ADDRESS --grant.")


def is_officer(session: Session, email: str) -> bool:
    return bool(session.scalar(select(Staff.privacy_officer).where(
        Staff.email == email, Staff.active)))


class PrivacyPages(DeskBase):
    """``/desk/privacy``: export and erase a person's data, for the privacy officers."""

    notices: Mapping[str, str] = MappingProxyType({
        "privacy-erased": N_("The person's data was erased; the audit log records it "
                             "under a hash."),
        "privacy-nothing": N_("Nothing was held about this person: nothing was erased."),
    })

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/desk/privacy", self.privacy)
        app.router.add_post("/desk/privacy/export", self.privacy_export)
        app.router.add_post("/desk/privacy/erase", self.privacy_erase)

    async def signed_in(self, request: web.Request) -> sessions.SignedIn:
        """The member, and whether they are a privacy officer (``request[OFFICER]``)."""
        signed = await super().signed_in(request)
        request[OFFICER] = await self.call(request, read, self.db,
                                           partial(is_officer, email=signed.operator))
        return signed

    def page(self, request: web.Request, name: str, context: dict[str, Any],
             status: int = 200) -> web.Response:
        """Every desk page: the menu names this page to the officers only."""
        return super().page(request, name, {**context,
                                            "privacy_officer": request.get(OFFICER, False)},
                            status)

    async def officer(self, request: web.Request) -> sessions.SignedIn:
        signed = await self.signed_in(request)
        if not request[OFFICER]:
            raise Refused(403, NOT_AN_OFFICER)
        return signed

    async def officer_form(self, request: web.Request) -> tuple[sessions.SignedIn, FormData]:
        signed = await self.officer(request)  # before the form: a 403 whatever it holds
        return signed, await self.form(request, signed)

    def person(self, request: web.Request, form: FormData) -> Person:
        try:
            return person_of(self.config, form.text("email")[:320],
                             form.text("phone")[:64])
        except RnmailError as exc:
            raise Refused(400, self.said(request, exc)) from None

    async def privacy(self, request: web.Request) -> web.StreamResponse:
        signed = await self.officer(request)
        return await self.show(request, signed, "privacy.html.j2", lambda _s: {})

    async def privacy_export(self, request: web.Request) -> web.StreamResponse:
        signed, form = await self.officer_form(request)
        person = self.person(request, form)
        blobs = BlobStore(self.config.helpdesk.attachments_dir)
        subject = person.subject_hash(self.config.helpdesk.secret)

        def work(session: Session, _actor: Actor) -> bytes:
            data, _result = export_zip(session, self.config, blobs, person)
            return data

        data = await self.write(request, signed, "privacy-export", work, {"subject": subject})
        return web.Response(body=data, headers={
            "Content-Type": "application/zip", "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="personal-data-{subject[:12]}.zip"'})

    async def privacy_erase(self, request: web.Request) -> web.StreamResponse:
        signed, form = await self.officer_form(request)
        person = self.person(request, form)
        reason = " ".join(form.text("reason").split())[:500]
        if not reason:
            raise Refused(400, N_("Give the reason for the erasure (the request's "
                                  "reference)."))
        if form.text("confirm") != "yes":
            def found(session: Session) -> dict[str, Any]:
                return {"counts": find_holdings(session, person).counts(),
                        "email": person.email or "", "phone": person.phone or "",
                        "reason": reason}

            return await self.show(request, signed, "privacy_confirm.html.j2", found)
        blobs = BlobStore(self.config.helpdesk.attachments_dir)
        subject = person.subject_hash(self.config.helpdesk.secret)

        def work(session: Session, _actor: Actor) -> bool:
            return erase_person(session, self.config, blobs, person, reason,
                                signed.operator).nothing

        try:
            nothing = await self.write(request, signed, "privacy-erase", work,
                                       {"subject": subject})
        except RnmailError as exc:  # a ticket on legal hold
            raise Refused(409, self.said(request, exc)) from None
        return done("/desk/privacy", "privacy-nothing" if nothing else "privacy-erased")

