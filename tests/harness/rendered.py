"""Rendered mail as its reader sees it: the test help desk (DESK) whose contact block
(BLOCK) ends every mail, and the visible text of an html part after checking its tags."""

from __future__ import annotations

from datetime import time
from html.parser import HTMLParser
from pathlib import Path

from rnmail.config import HelpdeskConfig
from tests.harness.factories import TEST_SECRET

# The help desk whose contact block ends every mail; its values are nowhere else in a mail.
DESK = HelpdeskConfig(address="helpdesk@rn.example", name="Help desk RN", tag="RN",
                      secret=TEST_SECRET,
                      default_language="fr", attachments_dir=Path("unused"),
                      max_attachment_mb=25, phone="+32 2 000 00 00", fax="+32 2 000 00 99",
                      opens=time(8, 15), closes=time(16, 45))


# The contact block as a reader sees it, in the text after "-- " and at the end of the html.
BLOCK = {
    "fr": ["Help desk RN", "Téléphone : +32 2 000 00 00", "Fax : +32 2 000 00 99",
           "E-mail : helpdesk@rn.example", "Les jours ouvrables de 8:15 à 16:45"],
    "nl": ["Help desk RN", "Telefoon: +32 2 000 00 00", "Fax: +32 2 000 00 99",
           "E-mail: helpdesk@rn.example", "Op werkdagen van 8.15 tot 16.45 uur"],
    "de": ["Help desk RN", "Telefon: +32 2 000 00 00", "Fax: +32 2 000 00 99",
           "E-Mail: helpdesk@rn.example", "An Werktagen von 8:15 bis 16:45 Uhr"],
    "en": ["Help desk RN", "Phone: +32 2 000 00 00", "Fax: +32 2 000 00 99",
           "E-mail: helpdesk@rn.example", "Working days 8:15–16:45"],
}


class _Html(HTMLParser):
    """Tags must close in order (void elements aside); keeps the visible text."""

    VOID = frozenset({"br", "hr", "wbr"})
    BREAKS = frozenset({"br", "p", "div", "ul", "li"})  # where a reader sees a space at least

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.seen: set[str] = set()
        self.errors: list[str] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        if tag in self.BREAKS:
            self.data.append(" ")
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BREAKS:
            self.data.append(" ")
        if not self.open or self.open.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def visible(html: str | None) -> str:
    """The text a reader sees in ``html``, after checking that its tags nest properly."""
    assert html is not None
    parser = _Html()
    parser.feed(html)
    parser.close()
    assert parser.errors == [] and parser.open == [], (parser.errors, parser.open)
    assert not parser.seen & {"script", "img", "style", "link", "iframe", "object"}
    return " ".join("".join(parser.data).split())

