"""Access unblocking (the guided procedure of the category access-key) and user groups
defined by a directory query — through the real CLI and a real SMTP server (aiosmtpd on
loopback), on SQLite and PostgreSQL. Directory users are made with the ORM, on reserved
domains only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from rnmail.db import Database
from rnmail.directory.people import set_access_status
from rnmail.directory.query_groups import define_group, sync_groups
from rnmail.dispatch.render import render
from rnmail.errors import RnmailError
from rnmail.models import (
    AuditEvent,
    DirectoryUser,
    GroupMember,
    Message,
    Organisation,
    OutboxMessage,
    Ticket,
    UserGroup,
)
from tests.harness.install import Installation, install
from tests.harness.mail import html_of, text_of
from tests.harness.rendered import BLOCK, DESK, visible
from tests.harness.servers import SmtpServer

INCOMING = "<toegang-20261128@zuidhoven.example>"
SINCE = {"jan@zuidhoven.example": datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
         "marie@rochebois.example": datetime(2026, 11, 25, 14, 30, tzinfo=UTC)}
# What the confirmation says of each action, per language (the reader must see it).
SAYS = {
    ("fr", "reset"): "Nous avons demandé la réinitialisation de votre accès.",
    ("fr", "new-key"): "Une nouvelle clé d'accès vous a été envoyée séparément.",
    ("nl", "reset"): "We hebben de herinitialisatie van uw toegang aangevraagd.",
    ("nl", "new-key"): "Er werd u afzonderlijk een nieuwe toegangssleutel bezorgd.",
    ("de", "reset"): "Wir haben die Zurücksetzung Ihres Zugangs beantragt.",
    ("de", "new-key"): "Ein neuer Zugangsschlüssel wurde Ihnen gesondert zugesandt.",
    ("en", "reset"): "We have requested a reset of your access.",
    ("en", "new-key"): "A new access key has been sent to you separately.",
}
# The user's language as a French note names it (CLDR: lower case in French).
LANGUAGE_NAME = {"fr": "français", "nl": "néerlandais", "de": "allemand", "en": "anglais"}
SUBJECT = {"fr": "Votre accès au Registre national est débloqué",
           "nl": "Uw toegang tot het Rijksregister is gedeblokkeerd",
           "de": "Ihr Zugang zum Nationalregister ist entsperrt",
           "en": "Your access to the National Register is unblocked"}


@pytest.fixture
def site(tmp_path: Path, db_url: str, smtp_server: SmtpServer) -> Iterator[Installation]:
    site = install(tmp_path, db_url, smtp_server)
    seed(site.db)
    yield site
    site.close()


def user(site: Installation, address: str) -> DirectoryUser:
    with site.db.transaction() as session:
        user = session.scalars(select(DirectoryUser)
                               .where(DirectoryUser.email == address)).one()
        session.expunge(user)
        return user


def state(site: Installation) -> tuple[Any, ...]:
    """Everything an unblocking may change, to compare before and after a refusal."""
    with site.db.transaction() as session:
        users = tuple(session.execute(
            select(DirectoryUser.email, DirectoryUser.access_status,
                   DirectoryUser.status_since, DirectoryUser.key_sent_at)
            .order_by(DirectoryUser.email)))
        tickets = tuple(session.execute(
            select(Ticket.id, Ticket.status, Ticket.category).order_by(Ticket.id)))
        counts = tuple(session.scalar(select(func.count()).select_from(model))
                       for model in (Message, AuditEvent, OutboxMessage, GroupMember))
    return users, tickets, counts


def members(site: Installation, group: str) -> set[str]:
    with site.db.transaction() as session:
        return set(session.scalars(select(GroupMember.email).join(UserGroup)
                                   .where(UserGroup.name == group)))


def seed(db: Database) -> None:
    """Three organisations and their users; tickets from the two blocked ones."""
    with db.transaction() as session:
        zuid = Organisation(name="Gemeente Zuidhoven", kind="municipality", code="99001",
                            language="nl")
        roche = Organisation(name="Commune de Rochebois", kind="municipality", code="99002",
                             language="fr")
        police = Organisation(name="Politiezone Noordkust", kind="police", code="5999",
                              language="nl")
        session.add_all([zuid, roche, police])
        session.add_all([
            DirectoryUser(organisation=zuid, email="jan@zuidhoven.example", name="Jan Peeters",
                          language="nl", role="bevolking", access_status="blocked",
                          status_since=SINCE["jan@zuidhoven.example"]),
            DirectoryUser(organisation=roche, email="marie@rochebois.example",
                          name="Marie Lambert", language="fr", role="population",
                          access_status="blocked",
                          status_since=SINCE["marie@rochebois.example"]),
            DirectoryUser(organisation=zuid, email="an@zuidhoven.example", name="An Claes",
                          language="nl", role="Bevolking", access_status="active"),
            DirectoryUser(organisation=zuid, email="els@zuidhoven.example", name="Els Wouters",
                          language="nl", role="burgerzaken", access_status="active"),
            DirectoryUser(organisation=zuid, email="luc@zuidhoven.example", name="Luc Martin",
                          language="fr", role="bevolking", access_status="active"),
            DirectoryUser(organisation=roche, email="paul@rochebois.example",
                          name="Paul Dubois", language="fr", access_status="revoked"),
            DirectoryUser(organisation=police, email="piet@noordkust-pz.example",
                          name="Piet Janssens", language="nl", access_status="active"),
        ])
        # Jan's ticket is in French (the desk guessed wrong): his confirmation is in Dutch.
        jan = Ticket(subject="Toegangssleutel geblokkeerd", channel="mail",
                     requester="jan@zuidhoven.example", requester_name="Jan Peeters",
                     requester_type="municipality", language="fr", status="open")
        marie = Ticket(subject="Clé d'accès bloquée", channel="phone",
                       requester="marie@rochebois.example", language="fr", status="pending",
                       category="other")
        closed = Ticket(subject="Vraag over toegang", channel="mail",
                        requester="jan@zuidhoven.example", language="nl", status="closed",
                        resolution="first-contact", closed_at=SINCE["jan@zuidhoven.example"])
        later = Ticket(subject="Nog steeds geblokkeerd", channel="mail",
                       requester="jan@zuidhoven.example", language="nl", status="open")
        session.add_all([jan, marie, closed, later])
        session.add(Message(ticket=jan, direction="in", kind="correspondence",
                            message_id=INCOMING, references="<older@zuidhoven.example>",
                            from_addr="jan@zuidhoven.example", to_addrs=["info@rn.example"],
                            cc_addrs=[], subject="Toegangssleutel geblokkeerd",
                            text="Mijn toegangssleutel is geblokkeerd.",
                            display_text="Mijn toegangssleutel is geblokkeerd."))
    with db.transaction() as session:  # ids as the tests expect them
        ids = list(session.scalars(select(Ticket.id).order_by(Ticket.id)))
        assert ids == [1, 2, 3, 4]


# --------------------------------------------------------------------------- unblocking


@pytest.mark.parametrize(("address", "ticket_id", "lang", "action"), [
    ("jan@zuidhoven.example", 1, "nl", "new-key"),
    ("marie@rochebois.example", 2, "fr", "reset"),
])
def test_unblock_round_trip_mails_the_user_in_their_language(
        site: Installation, address: str, ticket_id: int, lang: str, action: str) -> None:
    before = user(site, address)
    out = site.ok("access", "unblock", address, "--ticket", str(ticket_id),
                  "--identity-confirmed", "--entitled", "--action", action,
                  "--note", "called back on the number in the directory",
                  "--by", "agent.dupont")
    first, second = out.strip().splitlines()
    assert first.startswith(f"{address} (") and f"unblocked on ticket #{ticket_id}" in first
    assert ("new key sent" if action == "new-key" else "reset requested") in first
    assert f"confirmation ({lang}) queued: outbox #1" in second
    assert site.json("outbox", "list")[0]["state"] == "queued"  # queued, not sent directly
    assert site.smtp.messages == []

    assert "1 sent, 0 deferred, 0 failed" in site.ok("outbox", "send")
    [envelope] = site.smtp.messages
    assert envelope.rcpt_tos == [address]
    [mail] = site.mails()
    assert mail["Subject"] == f"[RN #{ticket_id}] {SUBJECT[lang]}"
    assert mail["Content-Language"] == lang
    assert mail["From"].addresses[0].addr_spec == "info@rn.example"
    text, html = text_of(mail), html_of(mail)
    assert SAYS[(lang, action)] in text and SAYS[(lang, action)] in html
    other = "reset" if action == "new-key" else "new-key"
    assert SAYS[(lang, other)] not in text
    assert f"RN #{ticket_id}" in text and before.name in text
    assert "called back" not in text  # the note is internal
    if ticket_id == 1:  # in the thread of Jan's mail
        assert mail["In-Reply-To"] == INCOMING
        assert mail["References"] == f"<older@zuidhoven.example> {INCOMING}"
    else:  # Marie phoned: no mail to answer
        assert mail["In-Reply-To"] is None

    after = user(site, address)
    assert after.access_status == "active" and after.status_since > before.status_since
    if action == "new-key":
        assert after.key_sent_at is not None and after.key_sent_at >= after.status_since
    else:
        assert after.key_sent_at is None

    ticket = site.json("ticket", "show", str(ticket_id))
    # Jan's ticket had no category; Marie's keeps hers.
    assert ticket["category"] == ("access-key" if ticket_id == 1 else "other")
    with site.db.transaction() as session:
        [comment] = session.scalars(select(Message).where(
            Message.ticket_id == ticket_id, Message.kind == "comment"))
        assert comment.from_addr == "agent.dupont"
        # The record is written in the help desk's language ([helpdesk].default_language,
        # fr here), the user's language named in it: no English left for the team.
        assert comment.subject == f"Note sur le ticket #{ticket_id}"
        assert comment.text.startswith(f"Accès débloqué pour {address} (")
        assert "- identité confirmée" in comment.text
        assert "- organisation toujours habilitée : " in comment.text
        assert ("nouvelle clé envoyée" if action == "new-key"
                else "réinitialisation demandée") in comment.text
        assert "Note : called back on the number in the directory" in comment.text
        assert f"Confirmation envoyée à {address} (en {LANGUAGE_NAME[lang]})." in comment.text
        for english in ("unblocked", "identity", "entitled", "requested", "sent", "Comment"):
            assert english not in comment.text + comment.subject
        [sent] = session.scalars(select(Message).where(
            Message.ticket_id == ticket_id, Message.direction == "out"))
        assert sent.to_addrs == [address] and sent.from_name == "agent.dupont"
        assert session.scalars(select(OutboxMessage.state)).one() == "sent"

    events = {e["action"]: e for e in site.json("audit")}
    unblocked = events["access-unblock"]
    assert unblocked["actor"] == "agent.dupont"
    detail = unblocked["detail"]
    assert (detail["email"], detail["ticket"], detail["action"]) == (address, ticket_id, action)
    assert detail["checks"] == ["identity confirmed", "organisation still entitled"]
    assert detail["note"] == "called back on the number in the directory"
    assert detail["before"]["access_status"] == "blocked"
    assert detail["after"]["access_status"] == "active"
    assert detail["before"]["key_sent_at"] is None
    assert (detail["after"]["key_sent_at"] is not None) == (action == "new-key")
    status = events["directory-status"]
    assert status["actor"] == "agent.dupont"
    assert status["detail"]["reason"] == f"unblocked on ticket #{ticket_id}: {action}"
    assert (status["detail"]["before"]["access_status"],
            status["detail"]["after"]["access_status"]) == ("blocked", "active")

    # Done once: a second time is refused, the user is no longer blocked.
    assert "is not blocked" in site.fails(
        "access", "unblock", address, "--ticket", str(ticket_id), "--identity-confirmed",
        "--entitled", "--action", action)


def test_refusals_change_nothing(site: Installation) -> None:
    jan = ("access", "unblock", "jan@zuidhoven.example", "--ticket", "1", "--action", "reset")
    before = state(site)
    line = site.fails(*jan, "--entitled")
    assert "identity confirmed" in line and "entitled" not in line.split("confirmed:")[1]
    line = site.fails(*jan, "--identity-confirmed")
    assert "organisation still entitled" in line and "identity" not in line
    line = site.fails(*jan)
    assert "identity confirmed" in line and "organisation still entitled" in line
    assert "not blocked (access is active)" in site.fails(
        "access", "unblock", "an@zuidhoven.example", "--ticket", "1", "--identity-confirmed",
        "--entitled", "--action", "reset")
    line = site.fails("access", "unblock", "paul@rochebois.example", "--ticket", "1",
                      "--identity-confirmed", "--entitled", "--action", "new-key")
    assert "revoked" in line and "directory set-status" in line
    assert "ticket #3 is closed" in site.fails(*jan[:4], "3", *jan[5:], "--identity-confirmed",
                                              "--entitled")
    assert "no ticket #99" in site.fails(*jan[:4], "99", *jan[5:], "--identity-confirmed",
                                        "--entitled")
    assert "no user 'nobody@zuidhoven.example'" in site.fails(
        "access", "unblock", "nobody@zuidhoven.example", "--ticket", "1",
        "--identity-confirmed", "--entitled", "--action", "reset")
    code, _, err = site.run(*jan[:-1], "wipe", "--identity-confirmed", "--entitled")
    assert code == 2 and "'wipe' is not one of" in err  # a usage error
    assert state(site) == before
    assert site.smtp.messages == []


def test_blocked_lists_oldest_block_first_with_open_tickets(site: Installation) -> None:
    rows = site.json("access", "blocked")
    assert [r["email"] for r in rows] == ["jan@zuidhoven.example", "marie@rochebois.example"]
    jan, marie = rows
    assert set(jan) >= {"email", "name", "organisation", "organisation_code", "since",
                        "open_tickets"}
    assert (jan["name"], jan["organisation"], jan["organisation_code"]) == (
        "Jan Peeters", "Gemeente Zuidhoven", "99001")
    assert datetime.fromisoformat(jan["since"]) == SINCE["jan@zuidhoven.example"]
    assert jan["open_tickets"] == [1, 4]  # #3 is closed
    assert marie["open_tickets"] == [2] and marie["organisation_code"] == "99002"
    out = site.ok("access", "blocked")
    assert "jan@zuidhoven.example  Jan Peeters  Gemeente Zuidhoven (99001)  blocked since " \
           "2026-11-20 09:00 CET  #1, #4" in out  # 08:00 UTC, Brussels time
    assert out.strip().endswith("2 blocked user(s)")

    site.ok("access", "unblock", "marie@rochebois.example", "--ticket", "2",
            "--identity-confirmed", "--entitled", "--action", "reset", "--by", "agent.dupont")
    assert [r["email"] for r in site.json("access", "blocked")] == ["jan@zuidhoven.example"]


@pytest.mark.parametrize("lang", ["fr", "nl", "de", "en"])
def test_the_confirmation_template_renders_in_every_language(lang: str) -> None:
    for action in ("reset", "new-key"):
        rendered = render("access_unblocked", lang, "fr", {
            "tag": "RN", "ticket_id": 42, "helpdesk_name": "Help desk",
            "user_name": "A <b>&</b> B", "action": action}, helpdesk=DESK)
        assert rendered.language == lang
        assert rendered.subject == f"[RN #42] {SUBJECT[lang]}"
        assert SAYS[(lang, action)] in rendered.text and "A <b>&</b> B" in rendered.text
        assert rendered.html is not None and "A &lt;b&gt;&amp;&lt;/b&gt; B" in rendered.html
        # the contact block ends it, and the help desk's number is said there only
        assert rendered.text.endswith("\n-- \n" + "\n".join(BLOCK[lang]) + "\n")
        assert rendered.text.count("+32 2 000 00 00") == 1
        assert visible(rendered.html).endswith(" ".join(BLOCK[lang]))


# --------------------------------------------------------------------------- groups


def test_query_group_sync_after_revocation_and_blocking(site: Installation) -> None:
    out = site.ok("lists", "define", "gemeenten-nl", "--type", "municipality",
                  "--language", "nl")
    assert "gemeenten-nl: new query group (municipality; nl; active), 2 member(s)" in out
    # Active, Dutch-speaking, of a municipality: not Jan (blocked), Luc (French), Piet
    # (police), Paul (revoked).
    assert members(site, "gemeenten-nl") == {"an@zuidhoven.example", "els@zuidhoven.example"}
    with site.db.transaction() as session:
        an = session.scalars(select(GroupMember).where(
            GroupMember.email == "an@zuidhoven.example")).one()
        assert (an.name, an.language, an.organisation, an.code) == (
            "An Claes", "nl", "Gemeente Zuidhoven", "99001")

    # A CSV group with some of the same people (and the revoked Paul, on an old list).
    contacts = site.root / "lists" / "contacts.csv"
    contacts.parent.mkdir(exist_ok=True)
    contacts.write_text("email,name,language,organisation\n"
                        "an@zuidhoven.example,An Claes,nl,Zuidhoven\n"
                        "piet@noordkust-pz.example,Piet Janssens,nl,PZ Noordkust\n"
                        "paul@rochebois.example,Paul Dubois,fr,Rochebois\n")
    site.ok("lists", "import", str(contacts))

    rows = {r["name"]: r for r in site.json("lists", "list")}
    assert rows["gemeenten-nl"]["query"] == {"kinds": ["municipality"], "languages": ["nl"],
                                             "states": ["active"], "roles": []}
    assert rows["contacts"]["query"] is None
    listing = site.ok("lists", "list")
    assert "[query: municipality; nl; active]" in listing
    assert "contacts" in listing and listing.count("[query:") == 1

    # The first sync takes the revoked Paul out of the CSV group.
    results = {r["group"]: r for r in site.json("lists", "sync")}
    assert results["contacts"] == {"group": "contacts", "query": False, "added": 0,
                                   "updated": 0, "removed": 1, "revoked_removed": 1,
                                   "skipped": 0, "total": 2, "created": False}
    assert results["gemeenten-nl"]["query"] is True
    assert results["gemeenten-nl"]["total"] == 2 and results["gemeenten-nl"]["removed"] == 0

    # An is revoked: she leaves every group at once, and a sync keeps her out even after
    # the CSV list (not updated yet) brings her back.
    with site.db.transaction() as session:
        an_user = session.scalars(select(DirectoryUser).where(
            DirectoryUser.email == "an@zuidhoven.example")).one()
        assert set_access_status(session, an_user, "revoked", "left the municipality",
                                 "agent.dupont")
    assert "an@zuidhoven.example" not in members(site, "gemeenten-nl")
    assert "an@zuidhoven.example" not in members(site, "contacts")
    site.ok("lists", "import", str(contacts))
    assert "an@zuidhoven.example" in members(site, "contacts")
    out = site.ok("lists", "sync")
    assert "contacts (list): 1 member(s) (0 added, 0 updated, 2 removed, of which 2 revoked)" \
        in out
    assert members(site, "contacts") == {"piet@noordkust-pz.example"}
    assert members(site, "gemeenten-nl") == {"els@zuidhoven.example"}

    # A blocked user stays in the group until the next sync, and comes back once unblocked.
    with site.db.transaction() as session:
        els = session.scalars(select(DirectoryUser).where(
            DirectoryUser.email == "els@zuidhoven.example")).one()
        set_access_status(session, els, "blocked", "too many wrong attempts", "agent.dupont")
        session.add(Ticket(subject="Toegang geblokkeerd", channel="phone",
                           requester="els@zuidhoven.example", language="nl", status="open"))
    assert members(site, "gemeenten-nl") == {"els@zuidhoven.example"}
    [result] = [r for r in site.json("lists", "sync") if r["group"] == "gemeenten-nl"]
    assert (result["removed"], result["revoked_removed"], result["total"]) == (1, 0, 0)
    assert members(site, "gemeenten-nl") == set()
    site.ok("access", "unblock", "els@zuidhoven.example", "--ticket", "5",
            "--identity-confirmed", "--entitled", "--action", "reset", "--by", "agent.dupont")
    site.ok("lists", "sync")
    assert members(site, "gemeenten-nl") == {"els@zuidhoven.example"}


def test_define_redefine_and_refusals(site: Installation) -> None:
    with site.db.transaction() as session:
        result = define_group(session, "pz-en-gemeenten", ["police", "commune"], ["nl", "fr"],
                              roles=["BEVOLKING"])
        assert result.created and result.total == 2  # An (role "Bevolking") and Luc
        again = define_group(session, "pz-en-gemeenten", ["police"], ["nl"])
        assert not again.created and (again.added, again.removed, again.total) == (1, 2, 1)
        group = session.scalars(select(UserGroup).where(
            UserGroup.name == "pz-en-gemeenten")).one()
        assert group.query == {"kinds": ["police"], "languages": ["nl"],
                               "states": ["active"], "roles": []}
    assert members(site, "pz-en-gemeenten") == {"piet@noordkust-pz.example"}
    with site.db.transaction() as session:
        blocked = define_group(session, "geblokkeerd", ["municipality"], ["nl", "fr"],
                               states=["blocked"])
        assert blocked.total == 2
        assert [r.group for r in sync_groups(session)] == ["geblokkeerd", "pz-en-gemeenten"]
    assert members(site, "geblokkeerd") == {"jan@zuidhoven.example", "marie@rochebois.example"}

    assert "cannot select revoked users" in site.fails(
        "lists", "define", "x", "--type", "municipality", "--language", "nl",
        "--status", "revoked")
    assert "unknown organisation type 'bakery'" in site.fails(
        "lists", "define", "x", "--type", "bakery", "--language", "nl")
    assert "group name 'Bad Name'" in site.fails(
        "lists", "define", "Bad Name", "--type", "police", "--language", "nl")
    code, _, err = site.run("lists", "define", "x", "--language", "nl")
    assert code == 2 and "--type" in err

    # A CSV group is not turned into a query group, nor a query group fed from a CSV file.
    site.ok("lists", "add", "team", "ops@rn.example", "--name", "Ops", "--language", "fr",
            "--create")
    assert "group 'team' is a CSV list" in site.fails(
        "lists", "define", "team", "--type", "police", "--language", "nl")
    csv_file = site.root / "pz-en-gemeenten.csv"
    csv_file.write_text("email,name,language\nsomeone@elsewhere.example,Someone,nl\n")
    before = state(site)
    line = site.fails("lists", "import", str(csv_file))
    assert "group 'pz-en-gemeenten' is defined by a directory query" in line
    assert state(site) == before
    assert members(site, "pz-en-gemeenten") == {"piet@noordkust-pz.example"}
    for edit in (("add", "pz-en-gemeenten", "x@elsewhere.example", "--name", "X",
                  "--language", "nl"), ("remove", "pz-en-gemeenten", "piet@noordkust-pz.example")):
        assert "members come from `lists sync`" in site.fails("lists", *edit)
    assert members(site, "pz-en-gemeenten") == {"piet@noordkust-pz.example"}
    with (pytest.raises(RnmailError, match="at least one access state"),
          site.db.transaction() as session):
        define_group(session, "x", ["police"], ["nl"], states=[])
