"""Mail as safe HTML: a requester's HTML through an allowlist, a text body escaped.

The requester's HTML never reaches the desk's origin as written: it goes through ``nh3``
(the Python binding of the Rust ``ammonia`` sanitizer, on the ``html5ever`` parser a browser
agrees with), with an allowlist fit for mail. What survives is text structure only:
paragraphs, emphasis, lists, quotations, preformatted text, tables and links. Links keep only
an absolute ``http``, ``https`` or ``mailto`` address (never a relative one, which would point
into the desk), get ``rel="noopener noreferrer nofollow"`` and lose any ``target``. There are
no ``style`` attributes or elements, no classes or ids, no forms, frames, objects, SVG or
MathML, and no images at all: a remote image tells the sender when and where the mail was
read (tracking pixels), so each image is replaced by its alt text in brackets and counted.
A link whose words are a web or mail address other than where it leads (phishing: the words
say ``https://www.ibz.example``, the link goes elsewhere) is followed by the real host or
address in brackets.

Quoted history is split off so the desk can fold it: the first element a mail client marks as
the start of a quotation (Apple Mail's and Thunderbird's ``blockquote type="cite"``, Gmail's
``gmail_quote``, Outlook's ``divRplyFwdMsg``/``appendonsend``, Thunderbird's
``moz-cite-prefix``, Yahoo's ``yahoo_quoted``, Proton's ``protonmail_quote``), or else a plain
``blockquote`` right after an attribution line as the ingest knows them
(``ingest.parse.ATTRIBUTION_RE``: "Le … a écrit :", "Op … schreef …:"), and everything
after it. For a text body the split is the one ``ingest.parse.strip_quoted`` already made at
ingest (``Message.display_text``).

Safety does not rest on the splitting: the first ``nh3`` pass keeps only what the splitter
needs (classes, ids and ``type`` besides the allowlist), the splitter re-serializes with every
text and attribute escaped, and each resulting piece goes through the final ``nh3`` pass with
the final allowlist. Pure: no database, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

from rnmail.ingest.parse import ATTRIBUTION_RE

# What the desk shows of a mail's markup: text structure, no presentation, nothing active.
TAGS = frozenset({
    "p", "br", "div", "span", "b", "i", "u", "s", "strong", "em", "small", "sub", "sup",
    "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "code", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "td", "th", "a",
})
ATTRIBUTES = {"a": {"href"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"},
              "ol": {"start"}}
SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
# Elements dropped with their content (the default keeps the text of an unknown element).
DROPPED = frozenset({"script", "style", "template", "noscript", "title", "head", "svg", "math",
                     "iframe", "object", "embed", "applet", "noembed", "noframes", "xmp",
                     "plaintext", "select", "textarea", "button", "option", "audio", "video",
                     "canvas", "frameset", "frame"})
# The first pass keeps what the quotation finder and the image placeholder need.
_FIRST_TAGS = TAGS | {"img"}
_FIRST_ATTRIBUTES = {**ATTRIBUTES, "img": {"alt"}, "blockquote": {"type"}}
_MARKER_CLASSES = ("gmail_quote", "gmail_attr", "moz-cite-prefix", "yahoo_quoted",
                   "protonmail_quote", "zmail_extra")
_MARKER_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container",
               "olk_src_body_section", "zwchr")
_VOID = frozenset({"br", "hr", "img"})
_BREAKS = frozenset({"br", "p", "div", "li", "tr", "blockquote", "pre", "hr", "table",
                     "h1", "h2", "h3", "h4", "h5", "h6"})
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`\x00-\x1f\x7f]+", re.IGNORECASE)
_MAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TRAILING = ".,;:!?)]}'\""
# A tag of sanitized HTML (its attribute values always in double quotes, which may hold >).
_TAG_RE = re.compile(r'<[^>"]*(?:"[^"]*"[^>"]*)*>')
# What in a mail's HTML may need the splitter: an image (html5 reads <image> as <img>) or a
# quotation marker.
_SPLIT_HINTS = ("<img", "<image", "type=", "<blockquote", *_MARKER_CLASSES, *_MARKER_IDS)
_LINK_RE = re.compile(r'<a href="([^"]*)" rel="noopener noreferrer nofollow">([^<]*)</a>')
# Words that read as an address: a URL, a domain name (with a path or not), a mail address.
_ADDRESS_WORDS_RE = re.compile(
    r"(?:(?:https?://)?[\w-]+(?:\.[\w-]+)+(?::\d+)?(?:[/?#]\S*)?"
    r"|(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.IGNORECASE)
_INVISIBLE_RE = re.compile(r"[\s\u00a0\u200b-\u200f\u2028\u2029\ufeff]+")


@dataclass(frozen=True)
class SafeHtml:
    """A mail body as HTML the desk may put in its page as is."""

    html: str
    quoted_html: str | None  # the quoted history, to show folded; None when there is none
    images_hidden: int  # images replaced by their alt text (never loaded)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Only absolute http, https and mailto links; nh3 already checks the scheme of an
    absolute URL, this also refuses relative ones (``/desk/...``, ``//host``)."""
    if tag == "a" and attribute == "href":
        scheme = value.strip().split(":", 1)[0].lower() if ":" in value else ""
        if scheme not in SCHEMES or value.strip().startswith("//"):
            return None
    if attribute in ("colspan", "rowspan", "start"):
        return value if value.strip().isdigit() and len(value.strip()) < 4 else None
    return value


def _first_pass(html: str) -> str:
    return nh3.clean(
        html, tags=set(_FIRST_TAGS), clean_content_tags=set(DROPPED),
        attributes={**{k: set(v) for k, v in _FIRST_ATTRIBUTES.items()},
                    "*": {"class", "id"}},
        attribute_filter=_attribute_filter, strip_comments=True, link_rel=LINK_REL,
        url_schemes=set(SCHEMES))


def final_pass(html: str) -> str:
    """The allowlist itself: whatever is given, what comes out is only ``TAGS`` with
    ``ATTRIBUTES`` and safe links."""
    return nh3.clean(
        html, tags=set(TAGS), clean_content_tags=set(DROPPED),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        attribute_filter=_attribute_filter, strip_comments=True, link_rel=LINK_REL,
        url_schemes=set(SCHEMES))


def visible_text(html: str) -> str:
    """The text a reader sees of sanitized ``html`` (tags removed, entities decoded), for
    deciding whether a piece is empty and for tests; not a sanitizer."""
    return _INVISIBLE_RE.sub(" ", unescape(_TAG_RE.sub(" ", html))).strip()


def has_text(html: str) -> bool:
    """Whether sanitized ``html`` shows any text (stops at the first)."""
    return any(_INVISIBLE_RE.sub("", unescape(piece)) for piece in _TAG_RE.split(html)
               if piece and not piece.isspace())


def sanitize_html(html: str) -> SafeHtml:
    """The safe HTML of a requester's HTML body, its quoted history apart. A ticket page
    shows the same mails at every view: the results for bodies up to ``CACHED_CHARS`` are
    kept (the last 64), larger ones are not, so the cache stays small."""
    return _cached(html) if len(html) <= CACHED_CHARS else _sanitize(html)


CACHED_CHARS = 200_000


@lru_cache(maxsize=64)
def _cached(html: str) -> SafeHtml:
    return _sanitize(html)


def _sanitize(html: str) -> SafeHtml:
    lowered = html.lower()
    if not any(hint in lowered for hint in _SPLIT_HINTS):  # no image, no quotation
        return SafeHtml(_reveal_hosts(final_pass(html)), None, 0)
    first = _first_pass(html)
    splitter = _Splitter()
    splitter.feed(first)
    splitter.close()
    own, quoted = splitter.pieces()
    own_html, quoted_html = _reveal_hosts(final_pass(own)), \
        _reveal_hosts(final_pass(quoted)) if quoted else ""
    if not has_text(own_html) or not has_text(quoted_html):
        # Nothing written above the quotation (a forward) or no quotation: all of it shown.
        return SafeHtml(_reveal_hosts(final_pass(own + quoted)), None, splitter.images)
    return SafeHtml(own_html, quoted_html, splitter.images)


def _reveal_hosts(html: str) -> str:
    """Each link whose words name another host or address than its own, followed by its
    own in brackets."""
    def reveal(match: re.Match[str]) -> str:
        target, words = unescape(match.group(1)), unescape(match.group(2)).strip()
        if not _ADDRESS_WORDS_RE.fullmatch(words):
            return match.group(0)
        if target.lower().startswith("mailto:"):
            real = target[7:].split("?", 1)[0]
            shown = words[7:] if words.lower().startswith("mailto:") else words
            same = real.lower() == shown.lower()
        else:
            real = _host(target)
            same = real == _host(words if "://" in words else f"http://{words}")
        return match.group(0) if same or not real else f"{match.group(0)} {escape(f'[{real}]')}"
    return _LINK_RE.sub(reveal, html)


def _host(url: str) -> str:
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


@lru_cache(maxsize=256)  # a ticket page shows the same messages at every view
def text_to_html(text: str) -> str:
    """A text body as HTML: escaped, its line breaks kept, its web and mail addresses
    made links (through ``final_pass`` like any HTML)."""
    lines = [_linkify(line) for line in text.replace("\r\n", "\n").split("\n")]
    return final_pass("<br>\n".join(lines))


def _linkify(line: str) -> str:
    out: list[str] = []
    position = 0
    for match in _URL_RE.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        out.append(_mail_links(line[position:match.start()]))
        out.append(f'<a href="{escape(url, quote=True)}">{escape(url)}</a>')
        position = match.start() + len(url)
    out.append(_mail_links(line[position:]))
    return "".join(out)


def _mail_links(piece: str) -> str:
    out: list[str] = []
    position = 0
    for match in _MAIL_RE.finditer(piece):
        address = match.group(0).rstrip(_TRAILING)
        out.append(escape(piece[position:match.start()]))
        out.append(f'<a href="mailto:{escape(address, quote=True)}">{escape(address)}</a>')
        position = match.start() + len(address)
    out.append(escape(piece[position:]))
    return "".join(out)


class _Splitter(HTMLParser):
    """Re-serializes sanitized HTML with everything escaped, images as their alt text,
    cut in two at the first quotation marker (the stray end tags this leaves in either
    piece are dropped by ``final_pass``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.own: list[str] = []
        self.quoted: list[str] = []
        self.images = 0
        self._recent = ""  # the last words before the current point, for an attribution

    def pieces(self) -> tuple[str, str]:
        return "".join(self.own), "".join(self.quoted)

    def _out(self) -> list[str]:
        return self.quoted if self.quoted else self.own

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images += 1
            alt = " ".join((dict(attrs).get("alt") or "").split())
            if alt:
                self._out().append(escape(f"[{alt}]"))
            return
        values = {name: value or "" for name, value in attrs}
        if not self.quoted and (_is_marker(tag, values) or (
                tag == "blockquote" and _ends_with_attribution(self._recent))):
            self.quoted.append("")  # from here on, the quotation
        if tag in _BREAKS:
            self._recent += "\n"
        kept = "".join(f' {name}="{escape(value, quote=True)}"'
                       for name, value in values.items() if name not in ("class", "id", "type"))
        self._out().append(f"<{tag}{kept}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self._recent += "\n"
        if tag not in _VOID:
            self._out().append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self._out().append(escape(data))
        self._recent = (self._recent + data)[-600:]


def _is_marker(tag: str, attrs: dict[str, str]) -> bool:
    if tag == "blockquote" and attrs.get("type", "").strip().lower() == "cite":
        return True
    classes = attrs.get("class", "").lower().split()
    if any(c.startswith(marker) for c in classes for marker in _MARKER_CLASSES):
        return True
    return attrs.get("id", "").strip().lower() in _MARKER_IDS


def _ends_with_attribution(recent: str) -> bool:
    lines = [line.strip() for line in recent.replace("\u00a0", " ").split("\n")]
    text = "\n".join(line for line in lines if line)
    match = ATTRIBUTION_RE.search(text[-450:])
    return match is not None and not text[-450:][match.end():].strip()
