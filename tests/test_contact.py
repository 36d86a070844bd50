"""The help desk's contact block ends every mail rnmail sends and shows on its public pages.

Phone, fax, e-mail address and opening hours come from the configuration (distinctive values
here, so a hard-coded default cannot pass) and are phrased in the language the mail was
rendered in. Every kind of mail is rendered as its sender renders it, in every language; then
real mails go through the outbox to a real SMTP server; then the status and FAQ pages.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select

from rnmail.config import Config, StatusConfig
from rnmail.directory.groups import Recipient
from rnmail.dispatch.announce import announce, mailing_notice, preview_template
from rnmail.dispatch.answer import answer_requester, send_to_service, take_phone_message
from rnmail.dispatch.render import Rendered, render
from rnmail.errors import ConfigError
from rnmail.models import Service, Ticket
from rnmail.ops.doctor import MAILING_SAMPLE, _ticket_samples
from rnmail.status.page import publish_status
from rnmail.tickets import faq
from rnmail.tickets.history import Actor
from rnmail.tickets.team import add_service, add_staff
from tests.harness.factories import Desk, make_config
from tests.harness.rendered import visible
from tests.harness.servers import SmtpServer
from tests.harness.statuspage import make_view

LANGS = ("fr", "nl", "de", "en")
DATA = Path(__file__).parent / "data"
NAME, PHONE, FAX, ADDRESS = "Help desk RN", "+32 2 000 00 00", "+32 2 000 00 99", "info@rn.example"
# What a reader sees at the end of each mail: after "-- " in the text, last in the HTML.
BLOCK = {
    "fr": [NAME, f"Téléphone : {PHONE}", f"Fax : {FAX}", f"E-mail : {ADDRESS}",
           "Les jours ouvrables de 8:15 à 16:45"],
    "nl": [NAME, f"Telefoon: {PHONE}", f"Fax: {FAX}", f"E-mail: {ADDRESS}",
           "Op werkdagen van 8.15 tot 16.45 uur"],
    "de": [NAME, f"Telefon: {PHONE}", f"Fax: {FAX}", f"E-Mail: {ADDRESS}",
           "An Werktagen von 8:15 bis 16:45 Uhr"],
    "en": [NAME, f"Phone: {PHONE}", f"Fax: {FAX}", f"E-mail: {ADDRESS}",
           "Working days 8:15–16:45"],
}
TICKET_MAILS = ("acknowledgement", "answer", "notification", "delegation", "phone_message",
                "staff_error", "staff_unsent", "access_unblocked", "fetch_alert")
NOTICES = ("status_change", "maintenance", "incident_solved")


def desk_config(tmp_path: Path, db_url: str = "sqlite://", **sections: Any) -> Config:
    helpdesk = {"name": NAME, "phone": PHONE, "fax": FAX, **sections.pop("helpdesk", {})}
    stats = {"opens": "08:15", "closes": "16:45", **sections.pop("stats", {})}
    return make_config(tmp_path, db_url, helpdesk=helpdesk, stats=stats, **sections)


def assert_ends_with_block(text: str, html: str | None, lang: str, once: bool = True) -> None:
    """The block ends the (last) signature and the HTML; ``once``: one signature line, and
    the contact said nowhere else (a delegation quotes earlier mails: not once)."""
    signature = text.rsplit("\n-- \n", 1)[1]
    assert signature.endswith("\n".join(BLOCK[lang]) + "\n"), signature
    if once:
        assert re.findall(r"^-- $", text, re.MULTILINE) == ["-- "], text
        assert text.count(PHONE) == text.count(FAX) == 1, text
    if html is not None:
        assert f'<hr>\n<div class="contact" lang="{lang}">' in html
        assert html.rstrip().endswith("</div>")
        seen = visible(html)
        assert seen.endswith(" ".join(BLOCK[lang])), seen
        assert seen.count(PHONE) == 1 or not once
        assert f'href="mailto:{ADDRESS}"' in html


def check(rendered: Rendered, lang: str) -> None:
    assert rendered.language == lang
    assert_ends_with_block(rendered.text, rendered.html, lang)


# --------------------------------------------------------------------------- every mail


@pytest.mark.parametrize("name", TICKET_MAILS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_ticket_mail_ends_with_the_block(tmp_path: Path, name: str, lang: str) -> None:
    config = desk_config(tmp_path)
    for context in _ticket_samples(config)[name]:  # the variables their senders pass
        check(render(name, lang, "fr", context, helpdesk=config.helpdesk), lang)


@pytest.mark.parametrize("name", NOTICES)
@pytest.mark.parametrize("lang", LANGS)
def test_every_notice_ends_with_the_block(tmp_path: Path, name: str, lang: str) -> None:
    check(preview_template(desk_config(tmp_path), name, lang, {}), lang)


@pytest.mark.parametrize("lang", LANGS)
def test_the_circular_ends_with_the_block(tmp_path: Path, lang: str) -> None:
    rendered = preview_template(desk_config(tmp_path), "circular", lang, dict(MAILING_SAMPLE))
    check(rendered, lang)
    assert rendered.html is not None


def test_mailings_of_templates_dir_end_with_the_block_of_the_language_used(
        tmp_path: Path) -> None:
    own = tmp_path / "mailings"
    own.mkdir()
    (own / "memo.fr.j2").write_text(  # text only
        "{% block subject %}Mémo{% endblock %}\n{% block text %}\nBonjour,\n\n{{ body }}\n"
        "{% endblock %}\n")
    (own / "memo.nl.j2").write_text(
        "{% block subject %}Memo{% endblock %}\n{% block text %}\nGoedendag,\n\n{{ body }}\n"
        "{% endblock %}\n{% block html %}{% autoescape true %}<p>{{ body }}</p>"
        "{% endautoescape %}{% endblock %}\n")
    config = desk_config(tmp_path, dispatch={"templates_dir": str(own)})
    for lang, used in (("fr", "fr"), ("nl", "nl"), ("de", "fr"), ("en", "fr")):
        rendered = preview_template(config, "memo", lang, {"body": "Le <b>texte</b>."})
        check(rendered, used)  # a German reader of a French-only memo: the French block
        assert rendered.text.startswith(("Bonjour,\n\nLe <b>texte</b>.\n\n-- \n",
                                         "Goedendag,\n\nLe <b>texte</b>.\n\n-- \n"))
        assert (rendered.html is None) == (used == "fr")


def test_a_template_with_its_own_signature_gets_no_second_one(tmp_path: Path) -> None:
    config = desk_config(tmp_path)
    [context] = _ticket_samples(config)["answer"]
    rendered = render("answer", "nl", "fr", context, helpdesk=config.helpdesk)
    assert rendered.text.endswith(
        "\n-- \nOm te antwoorden, antwoordt u gewoon op dit bericht zonder het onderwerp te "
        "wijzigen.\n\n" + "\n".join(BLOCK["nl"]) + "\n")


def test_config_values_are_escaped_in_html(tmp_path: Path) -> None:
    config = desk_config(tmp_path, helpdesk={"name": "Desk <b>RN</b> & Co",
                                             "phone": "<b>02</b>", "fax": ""})
    for name, lang in (("acknowledgement", "fr"), ("status_change", "nl"),
                       ("circular", "de")):
        if name == "acknowledgement":
            rendered = render(name, lang, "fr", _ticket_samples(config)[name][0],
                              helpdesk=config.helpdesk)
        else:
            rendered = preview_template(config, name, lang, dict(MAILING_SAMPLE))
        html = rendered.html or ""
        assert "<b>" not in html and "&lt;b&gt;02&lt;/b&gt;" in html
        assert str(escape("Desk <b>RN</b> & Co")) in html
        assert "Desk <b>RN</b> & Co" in visible(html) and "<b>02</b>" in visible(html)
        assert "\n-- \nDesk <b>RN</b> & Co\n" in rendered.text  # text stays text
        assert "<b>02</b>" in rendered.text
        assert "Fax" not in rendered.text.split("\n-- \n")[1]  # no fax: no fax line


# --------------------------------------------------------------------------- configuration


def test_the_hours_are_stats_opens_and_closes(tmp_path: Path) -> None:
    config = desk_config(tmp_path, stats={"opens": "07:45", "closes": "18:00"})
    assert (config.helpdesk.opens, config.helpdesk.closes) == (config.stats.opens,
                                                                config.stats.closes)
    assert config.helpdesk.opening_hours == "7:45–18:00"
    rendered = preview_template(config, "circular", "nl", dict(MAILING_SAMPLE))
    assert rendered.text.endswith("Op werkdagen van 7.45 tot 18.00 uur\n")


@pytest.mark.parametrize("written", ["9:00–17:00", "09:00-17:00", "9h - 17h", "9.00 tot 17.00 uur"])
def test_the_old_opening_hours_key_still_sets_the_hours(tmp_path: Path, written: str) -> None:
    config = make_config(tmp_path, "sqlite://", helpdesk={"opening_hours": written})
    assert (f"{config.stats.opens:%H:%M}", f"{config.stats.closes:%H:%M}") == ("09:00", "17:00")
    assert config.helpdesk.opening_hours == "9:00–17:00"
    rendered = preview_template(config, "circular", "de", dict(MAILING_SAMPLE))
    assert rendered.text.endswith("An Werktagen von 9:00 bis 17:00 Uhr\n")


def test_the_hours_are_set_once(tmp_path: Path) -> None:
    same = make_config(tmp_path, "sqlite://", helpdesk={"opening_hours": "8:15–16:45"},
                       stats={"opens": "08:15"})
    assert f"{same.stats.closes:%H:%M}" == "16:45"
    with pytest.raises(ConfigError, match=r"opening_hours disagrees with \[stats\]\.opens"):
        make_config(tmp_path, "sqlite://", helpdesk={"opening_hours": "9:00–17:00"},
                    stats={"opens": "08:30"})
    with pytest.raises(ConfigError, match=r"\[helpdesk\]\.opening_hours: expected hours"):
        make_config(tmp_path, "sqlite://", helpdesk={"opening_hours": "toute la journée"})


# --------------------------------------------------------------------------- delivered mail


def test_mail_delivered_over_smtp_ends_with_the_block(tmp_path: Path,
                                                      smtp_server: SmtpServer) -> None:
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config = desk_config(tmp_path, f"sqlite:///{tmp_path / 'rn.db'}", smtp=smtp_server,
                         mailbox=[{"name": "info", "type": "maildir", "path": str(maildir)}])
    desk = Desk(config)
    with desk.db.transaction() as session:
        add_staff(session, "marie@rn.example", "Marie", "de")
        add_service(session, "web-services", "ws@rn.example", None)
    (maildir / "new" / "a.eml").write_bytes(
        (DATA / "lang_nl_gemeente_toegangssleutel.eml").read_bytes())
    assert desk.ingest().outcomes == {"ticket": 1}  # acknowledgement (nl), notification (de)
    with desk.db.transaction() as session:
        ticket = session.scalars(select(Ticket)).one()
        answer_requester(session, config, ticket, "Uw sleutel is gedeblokkeerd.", [],
                         "Marie", actor=Actor.system("test"))  # nl
        service = session.scalars(select(Service)).one()
        requester = ticket.requester
        send_to_service(session, config, ticket, service, "Kunt u kijken?")  # fr (default)
        take_phone_message(session, config, "marie@rn.example", "Jan", "02/511 22 33",
                           "Terugbellen.")  # de
        notice = mailing_notice(config, "circular", dict(MAILING_SAMPLE), [])
        announce(session, config, notice, [], "alice", to=[
            Recipient(f"{lang}@commune.example", "", lang, None, None, "test")
            for lang in LANGS])
    report = desk.send()
    assert report.sent == 9, report
    languages: dict[str, list[str]] = {}
    for envelope in smtp_server.messages:
        mail: EmailMessage = email.message_from_bytes(  # type: ignore[assignment]
            envelope.content, policy=email.policy.default)
        lang = mail["Content-Language"]
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None
        assert_ends_with_block(plain.get_content(), html.get_content() if html else None, lang,
                               once=envelope.rcpt_tos != ["ws@rn.example"])
        languages.setdefault(envelope.rcpt_tos[0], []).append(lang)
    assert languages == {
        requester: ["nl", "nl"],  # acknowledgement, answer
        "marie@rn.example": ["de", "de"],  # notification, phone message
        "ws@rn.example": ["fr"],  # delegation, in the default language
        **{f"{lang}@commune.example": [lang] for lang in LANGS},  # the circular
    }


# --------------------------------------------------------------------------- public pages


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section lang="(\w\w)" id="\1".*?>(.*?)</section>', page,
                           re.DOTALL))


def test_the_status_page_shows_the_block_in_each_section(tmp_path: Path) -> None:
    config = desk_config(tmp_path)
    out = tmp_path / "status"
    publish_status(make_view(), StatusConfig(public_dir=out), config.helpdesk)
    page = (out / "index.html").read_text()
    sections = _sections(page)
    assert sorted(sections) == ["de", "fr", "nl"]
    for lang, section in sections.items():
        footer = section.split("<footer>", 1)[1]
        assert f'<div class="contact" lang="{lang}">' in footer
        assert visible(footer.split("</footer>")[0]).endswith(" ".join(BLOCK[lang]))
        others = [BLOCK[o][-1] for o in sections if o != lang]
        assert not any(hours in section for hours in others)
    assert "<script" not in page and "style=" not in page  # the CSP allows neither


def test_the_faq_pages_show_the_block_in_their_language(tmp_path: Path) -> None:
    config = desk_config(tmp_path, f"sqlite:///{tmp_path / 'rn.db'}",
                         helpdesk={"public_dir": str(tmp_path / "public")})
    desk = Desk(config)
    with desk.db.transaction() as session:
        written = faq.publish(session, config)
    assert len(written) == len(LANGS)
    for lang in LANGS:
        page = (tmp_path / "public" / "faq" / f"{lang}.html").read_text()
        footer = page.split("<footer>", 1)[1].split("</footer>", 1)[0]
        assert f'<div class="contact" lang="{lang}">' in footer
        assert visible(footer).endswith(" ".join(BLOCK[lang]))


def test_pages_escape_the_configured_values(tmp_path: Path) -> None:
    config = desk_config(tmp_path, f"sqlite:///{tmp_path / 'rn.db'}",
                         helpdesk={"phone": "<b>02</b>", "public_dir": str(tmp_path / "public")})
    publish_status(make_view(), StatusConfig(public_dir=tmp_path / "status"), config.helpdesk)
    with Desk(config).db.transaction() as session:
        faq.publish(session, config)
    for page in (tmp_path / "status" / "index.html", tmp_path / "public" / "faq" / "fr.html"):
        text = page.read_text()
        assert "<b>02</b>" not in text and "&lt;b&gt;02&lt;/b&gt;" in text


def test_doctor_samples_cover_every_ticket_mail(tmp_path: Path) -> None:
    assert set(_ticket_samples(desk_config(tmp_path))) == set(TICKET_MAILS)

