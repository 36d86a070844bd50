"""What the desk shows of a mail (``tickets.display``): hostile HTML mail, as an attacker
writes it, comes out without anything active and with its words; quoted history is folded
apart whatever the client; attachments download as files, never as pages of the desk."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote

import pytest
from aiohttp import web
from sqlalchemy import select

from rnmail.errors import NotFound
from rnmail.ingest.parse import Limits, parse_message
from rnmail.models import Message
from rnmail.tickets.display import (
    MAX_HTML_CHARS,
    Display,
    attachment_download,
    content_disposition,
    message_display,
)
from rnmail.util.blobs import BlobStore
from rnmail.util.sanitize import visible_text
from rnmail.web.downloads import attachment_response
from tests.harness.hostile_html import CASES, JS, QUOTING, Case, hostile_mail, unsafe_markup
from tests.harness.install import Installation, install
from tests.harness.tinyapp import AppServer
from tests.harness.web import request

ENCODINGS = ("8bit", "quoted-printable", "base64")
EXTENDED = re.compile(r"; filename\*=UTF-8''([A-Za-z0-9%!#$&+^`|~._-]+)$")


def download_name(disposition: str) -> str:
    """The file name a browser saves under: ``filename*`` (RFC 6266 4.3), which must be
    the header's last parameter and a well-formed RFC 5987 value."""
    found = EXTENDED.search(disposition)
    assert found, disposition
    return unquote(found.group(1), errors="strict")


def shown(raw: bytes, tmp_path: Path) -> Display:
    """The display of ``raw`` as parsed at ingest (the columns the store writes)."""
    mail = parse_message(raw, Limits(max_attachment_bytes=2**20))
    message = Message(html=mail.html, text=mail.text, display_text=mail.display_text)
    return message_display(message, BlobStore(tmp_path))


def assert_harmless(display: Display, shows: tuple[str, ...]) -> None:
    whole = display.html + (display.quoted_html or "")
    assert unsafe_markup(whole) == [], whole
    text = visible_text(whole)
    for words in shows:
        assert words in text, (words, whole)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_html_mail_shows_as_harmless_text(case: Case, encoding: str,
                                                  tmp_path: Path) -> None:
    display = shown(hostile_mail(case, encoding=encoding), tmp_path)
    assert display.source == "html"
    assert_harmless(display, case.shows)


def test_a_safe_link_keeps_its_address_and_loses_the_rest(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "more-handlers")
    display = shown(hostile_mail(case), tmp_path)
    assert '<a href="https://ok.example/" rel="noopener noreferrer nofollow">lien sûr</a>' \
        in display.html


def test_a_link_that_names_another_address_shows_where_it_leads(tmp_path: Path) -> None:
    case = Case("phishing", "<p>Bonjour, <a href=\"https://evil.example/login\">https://www."
                "ibz.example/aide</a>, <a href=\"https://ibz.example/x\">www.ibz.example</a>,"
                " <a href=\"mailto:bad@evil.example\">aide@rn.example</a>, <a href=\"https://"
                "evil.example/\">cliquez ici</a></p>", ("Bonjour",))
    display = shown(hostile_mail(case), tmp_path)
    assert_harmless(display, case.shows)
    assert visible_text(display.html) == (
        "Bonjour, https://www.ibz.example/aide [evil.example], www.ibz.example , "
        "aide@rn.example [bad@evil.example], cliquez ici")


def test_images_are_never_loaded_but_counted(tmp_path: Path) -> None:
    pixel = next(c for c in CASES if c.name == "tracking-pixel")
    display = shown(hostile_mail(pixel), tmp_path)
    assert display.images_hidden == 2
    assert "tracker.example" not in display.html and "data:" not in display.html
    assert "[schéma]" in display.html


def test_charset_tricks(tmp_path: Path) -> None:
    utf7 = Case("utf7", "<p>Bonjour utf7</p><script>" + JS + "</script>"
                "<img src=x onerror=\"" + JS + "\">", ("Bonjour utf7",))
    display = shown(hostile_mail(utf7, charset="utf-7"), tmp_path)
    assert_harmless(display, utf7.shows)
    raw_utf7 = hostile_mail(Case("utf7-raw", "x", ())).replace(
        b"x", b"+ADw-p+AD4-Bonjour+ACA-raw+ADw-/p+AD4-+ADw-script+AD4-alert(1)+ADw-/script+AD4-")
    raw_utf7 = raw_utf7.replace(b"charset=utf-8", b"charset=UTF-7")
    assert_harmless(shown(raw_utf7, tmp_path), ("Bonjour raw",))
    latin = Case("latin1", "<p onmouseover=\"" + JS + "\">Déjà reçu, merci</p>",
                 ("Déjà reçu, merci",))
    for encoding in ENCODINGS:
        assert_harmless(shown(hostile_mail(latin, charset="iso-8859-1", encoding=encoding),
                              tmp_path), latin.shows)
    declared = Case("meta-utf7", "<meta charset=utf-7><p>Bonjour meta</p>"
                    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-", ("Bonjour meta",))
    display = shown(hostile_mail(declared), tmp_path)
    assert_harmless(display, declared.shows)
    assert "+ADw-script" in display.html  # shown as the text it is, never decoded later


def test_the_html_part_is_shown_not_the_text_alternative(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "img-onerror")
    display = shown(hostile_mail(case, text="Bonjour texte"), tmp_path)
    assert display.source == "html"
    assert_harmless(display, case.shows)


@pytest.mark.parametrize("client", list(QUOTING))
def test_quoted_history_is_folded_apart(client: str, tmp_path: Path) -> None:
    own, quoted, html = QUOTING[client]
    case = Case(client, html, (own, quoted))
    display = shown(hostile_mail(case, encoding="quoted-printable"), tmp_path)
    assert_harmless(display, case.shows)
    assert own in visible_text(display.html) and quoted not in visible_text(display.html)
    assert display.quoted_html is not None and quoted in visible_text(display.quoted_html)


def test_a_quotation_of_the_writers_own_is_not_folded(tmp_path: Path) -> None:
    case = Case("own-quote", "<p>Le texte de loi dit :</p><blockquote>Article 3 : la clé est "
                "personnelle.</blockquote><p>Que faire ?</p>", ("Article 3", "Que faire ?"))
    display = shown(hostile_mail(case), tmp_path)
    assert display.quoted_html is None
    assert_harmless(display, case.shows)


def test_a_forward_with_nothing_above_the_quote_is_shown_whole(tmp_path: Path) -> None:
    case = Case("forward", '<div class="gmail_quote">---------- Forwarded message ---------'
                "<br>Bonjour, voici ma demande</div>", ("Bonjour, voici ma demande",))
    display = shown(hostile_mail(case), tmp_path)
    assert display.quoted_html is None
    assert_harmless(display, case.shows)


def text_mail(body: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"] = "requester@example.org", "info@rn.example"
    mail["Subject"], mail["In-Reply-To"] = "Re: [RN #4] Clé bloquée", "<n1@rn.example>"
    mail.set_content(body)
    return mail.as_bytes()


def test_a_huge_html_body_is_shown_as_its_text(tmp_path: Path) -> None:
    html = "<p>Bonjour</p>" + "<div><b>x</b></div>" * (MAX_HTML_CHARS // 19) + "<script>"
    message = Message(html=html, text="Bonjour <script>", display_text="Bonjour <script>")
    started = time.monotonic()
    display = message_display(message, BlobStore(tmp_path))
    assert time.monotonic() - started < 1
    assert (display.source, display.html) == ("text", "Bonjour &lt;script&gt;")


def test_a_text_mail_is_escaped_with_its_links_and_quote_folded(tmp_path: Path) -> None:
    body = ("Bonjour,\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n"
            "Voir https://www.ibz.example/aide?a=1&b=2. ou javascript:alert(1)\n"
            "Écrivez à aide@example.org.\n\n"
            "Le ven. 4 déc. 2026 à 10:00, Help Desk <info@rn.example> a écrit :\n"
            "> Votre clé est débloquée\n> Cordialement\n")
    display = shown(text_mail(body), tmp_path)
    assert display.source == "text"
    assert_harmless(display, ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                              "Votre clé est débloquée"))
    assert '<a href="https://www.ibz.example/aide?a=1&amp;b=2" rel="noopener noreferrer ' \
           'nofollow">' in display.html
    assert '<a href="mailto:aide@example.org"' in display.html
    assert "javascript:alert(1)" in display.html and 'href="javascript' not in display.html
    assert "Votre clé" not in display.html and "Bonjour,<br>" in display.html
    assert display.quoted_html is not None and "Votre clé est débloquée" in display.quoted_html


@pytest.mark.parametrize("name", [
    'a"b\\c\r\nSet-Cookie: x=1;.pdf', "../../etc/passwd", "facture\u202efdp.exe",
    "Aperçu du décompte – 2026.pdf", "日本語.txt", "....", "", "a\u2028b\x85c.txt"])
def test_content_disposition_cannot_inject_a_header(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii() and not any(c in header for c in "\r\n\x00")
    assert header.startswith("attachment; filename=\"")
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert "\\" not in fallback and "/" not in fallback and fallback
    assert email.message_from_string(f"Content-Disposition: {header}\n\n").get_filename() \
        == fallback  # one header, its parameters well formed
    filename = download_name(header)
    assert filename and "/" not in filename and "\u202e" not in filename
    assert not any(c in filename for c in "\r\n\x85\u2028")
    if name == "Aperçu du décompte – 2026.pdf":
        assert filename == name and fallback == "Apercu du decompte 2026.pdf"


def attachments_mail() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"] = "requester@example.org", "info@rn.example"
    mail["Subject"], mail["Message-ID"] = "Pièces jointes", "<files@example.org>"
    mail.set_content("Bonjour, voici les pièces.")
    mail.add_attachment(f"<script>{JS}</script>".encode(), "text", "html",
                        filename="page.html")
    mail.add_attachment(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{JS}"/>'.encode(),
                        "image", "svg+xml", filename="dessin.svg")
    mail.add_attachment(b"%PDF-1.4 decompte", "application", "pdf",
                        filename="Aperçu du décompte – 2026.pdf")
    mail.add_attachment(b"MZ", "application", "x-msdownload", filename="facture\u202efdp.exe")
    mail.add_attachment(b"<html><script>" + JS.encode() + b"</script>", "text", "plain",
                        filename='a"b.txt')
    return mail.as_bytes()


@pytest.fixture
def site(tmp_path: Path, db_url: str) -> Iterator[Installation]:
    site = install(tmp_path, db_url)
    yield site
    site.close()


def test_through_ingest_and_download(site: Installation) -> None:
    """The corpus delivered to the drop folder and ingested; every stored message shows
    harmless, and each attachment downloads with the headers of a file."""
    site.drop(*(hostile_mail(c, encoding=e) for c in CASES for e in ("8bit", "base64")),
              *(hostile_mail(Case(n, html, ())) for n, (_, _, html) in QUOTING.items()),
              attachments_mail())
    site.ok("ingest", "once")
    blobs = BlobStore(site.config.helpdesk.attachments_dir)
    cases = {c.name: c for c in CASES}
    with site.db.transaction() as session:
        messages = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert len(messages) == 2 * len(CASES) + len(QUOTING) + 1
        for message in messages:
            display = message_display(message, blobs)
            case = cases.get(message.subject)
            quoting = QUOTING.get(message.subject)
            assert_harmless(display, case.shows if case else quoting[:2] if quoting else ())
            if quoting:
                assert display.quoted_html and quoting[1] in display.quoted_html
        files = session.scalars(select(Message).where(Message.subject == "Pièces jointes")).one()
        listed = message_display(files, blobs).attachments
        ticket, message_id = files.ticket_id, files.id
    assert [(a.index, a.filename, a.downloadable) for a in listed] == [
        (1, "page.html", True), (2, "dessin.svg", True),
        (3, "Aperçu du décompte – 2026.pdf", True), (4, "facturefdp.exe", True),
        (5, 'a"b.txt', True)]

    async def download(http: web.Request) -> web.Response:
        """The desk's route without its sign-in and its page for a missing file."""
        with site.db.transaction() as session:
            try:
                return attachment_response(attachment_download(
                    session, blobs, int(http.match_info["message"]),
                    int(http.match_info["index"]), int(http.match_info["ticket"])))
            except NotFound:
                raise web.HTTPNotFound() from None

    app = web.Application()
    app.router.add_get("/desk/tickets/{ticket}/messages/{message}/{index}", download)
    expected = {1: ("application/octet-stream", "page.html"),
                2: ("application/octet-stream", "dessin.svg"),
                3: ("application/pdf", "Aperçu du décompte – 2026.pdf"),
                4: ("application/octet-stream", "facturefdp.exe"),
                5: ("text/plain", 'a"b.txt')}
    with AppServer(app) as server:
        for index, (kind, name) in expected.items():
            reply = request(server.port, f"/desk/tickets/{ticket}/messages/{message_id}/{index}")
            assert reply.status == 200
            assert reply.header("Content-Type") == kind
            assert reply.header("X-Content-Type-Options") == "nosniff"
            assert reply.header("Content-Security-Policy").startswith("sandbox")
            assert reply.header("Cache-Control") == "private, no-store"
            disposition = reply.header("Content-Disposition")
            assert disposition.startswith("attachment; ")
            assert download_name(disposition) == name
        assert b"PWNED" in request(server.port,
                                   f"/desk/tickets/{ticket}/messages/{message_id}/1").body
        for wrong in (f"{ticket + 1}/messages/{message_id}/1", f"{ticket}/messages/{message_id}/6",
                      f"{ticket}/messages/{message_id}/0", f"{ticket}/messages/999999/1"):
            reply = request(server.port, f"/desk/tickets/{wrong}")
            assert reply.status == 404 and b"PWNED" not in reply.body
    with site.db.transaction() as session, pytest.raises(NotFound):
        attachment_download(session, blobs, message_id, 1, ticket + 1)
