"""Build hostile, large and bulk test messages as bytes at test time.

Nothing here is stored in git: every function returns freshly built ``bytes``.
Well-formed messages are produced with the stdlib ``email`` package. Malformed
ones (truncated MIME, garbage headers, ...) start from an ``email``-built
message and are then damaged byte-wise, because the ``email`` generator refuses
to emit broken MIME on its own. ``mixed_batch`` renders MIME skeletons with the
``email`` package once and fills them per message, so that thousands of
messages can be produced in well under a second.

Only reserved domains are used (``*.example``, ``*.test``); the help desk is
``info@rn.example``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import functools
import html
import random
import struct
import textwrap
import unicodedata
import zlib
from collections.abc import Iterable, Mapping
from email import policy as _policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

__all__ = [
    "binary_junk",
    "deep_nesting",
    "empty",
    "garbage_headers",
    "huge_attachment",
    "many_parts",
    "mixed_batch",
    "no_body",
    "simple",
    "truncated_mime",
    "zip_bomb",
]

HELPDESK = "info@rn.example"
_TZ = _dt.timezone(_dt.timedelta(hours=1))
_BASE_DATE = _dt.datetime(2025, 3, 3, 8, 0, 0, tzinfo=_TZ)
_POLICY = _policy.default  # linesep "\n"; callers wanting CRLF can use crlf=True

LANGS = ("fr", "nl", "de", "en")

# --------------------------------------------------------------------------- texts
_TEXT: dict[str, dict[str, object]] = {
    "fr": {
        "content_language": "fr-BE",
        "subjects": [
            "Clé d'accès bloquée",
            "Demande de certificat de résidence",
            "Changement d'adresse non visible dans Mon Dossier",
            "Code PIN oublié pour ma carte d'identité",
            "Erreur dans l'orthographe de mon nom",
            "Composition de ménage incorrecte",
            "Question sur mon numéro de registre national",
        ],
        "greetings": ["Bonjour,", "Madame, Monsieur,", "Bonjour Madame, Monsieur,"],
        "paragraphs": [
            "Depuis ce matin, ma clé d'accès est bloquée après trois essais avec un "
            "mauvais code. Je ne peux plus me connecter à Mon Dossier pour télécharger "
            "mes certificats.",
            "J'ai déménagé il y a trois semaines et la commune a enregistré mon changement "
            "d'adresse, mais l'ancienne adresse apparaît toujours dans Mon Dossier.",
            "Pourriez-vous débloquer ma clé ou m'envoyer une nouvelle lettre avec les "
            "codes à mon adresse de domicile ? Je dois fournir l'attestation avant la fin "
            "du mois.",
            "Mon nom de famille est mal orthographié (un accent manque) sur le certificat "
            "de composition de ménage. Comment puis-je faire corriger cette donnée ?",
            "J'ai oublié le code PIN de ma carte d'identité électronique et le code PUK "
            "se trouve dans un courrier que je ne retrouve plus.",
            "La commune m'a conseillé de vous contacter directement car le problème "
            "semble venir du Registre national et non de l'administration communale.",
            "Vous trouverez ci-dessous les informations utiles. N'hésitez pas à me "
            "contacter si vous avez besoin d'autres renseignements.",
            "Je vous remercie d'avance pour votre aide et pour votre réponse rapide, car "
            "il s'agit d'une démarche urgente pour mon employeur.",
        ],
        "closings": [
            "Cordialement,",
            "Bien à vous,",
            "Merci d'avance,",
            "Salutations distinguées,",
        ],
        "names": [
            "Jean Dupont",
            "Marie Lambert",
            "Sophie Dubois",
            "Luc Martin",
            "Isabelle Leclercq",
            "Hélène Gérard",
            "François Lejeune",
            "Chloé Renard",
            "Service Population",
        ],
        "prefixes": ["RE:", "Re:", "TR:", "RE: RE:"],
        "attribution": "Le {date}, Registre national <info@rn.example> a écrit :",
        "answers": [
            "Bonjour,\n\nVotre clé d'accès a été débloquée. Vous pouvez à nouveau vous "
            "connecter.\n\nCordialement,\nLe helpdesk du Registre national",
            "Bonjour,\n\nPourriez-vous nous communiquer votre date de naissance et la "
            "commune de domicile ?\n\nLe helpdesk du Registre national\nTél. 02/518 21 31",
        ],
        "files": ["attestation.pdf", "scan carte d'identité.pdf", "capture d'écran.png"],
    },
    "nl": {
        "content_language": "nl-BE",
        "subjects": [
            "Toegangssleutel geblokkeerd",
            "Aanvraag attest van woonst",
            "Adreswijziging niet zichtbaar in Mijn Dossier",
            "PIN-code vergeten van mijn eID",
            "Fout in de spelling van mijn naam",
            "Attest gezinssamenstelling klopt niet",
            "Vraag over mijn rijksregisternummer",
        ],
        "greetings": ["Goedemorgen,", "Beste,", "Geachte heer, mevrouw,", "Goedendag,"],
        "paragraphs": [
            "Sinds vanochtend is mijn toegangssleutel geblokkeerd na drie verkeerde "
            "pogingen. Ik kan niet meer inloggen op Mijn Dossier om mijn attesten te "
            "downloaden.",
            "Ik ben drie weken geleden verhuisd en de gemeente heeft de adreswijziging "
            "geregistreerd, maar in Mijn Dossier staat nog steeds mijn oude adres.",
            "Kunnen jullie de sleutel deblokkeren of nieuwe codes opsturen naar mijn "
            "domicilieadres? Ik moet het attest voor het einde van de maand bezorgen.",
            "Mijn familienaam is verkeerd gespeld op het attest gezinssamenstelling. "
            "Hoe kan ik dit laten verbeteren?",
            "Ik ben de PIN-code van mijn elektronische identiteitskaart vergeten en de "
            "brief met de PUK-code vind ik niet meer terug.",
            "De dienst bevolking van onze gemeente raadde mij aan om jullie rechtstreeks "
            "te contacteren, omdat het probleem bij het Rijksregister zou liggen.",
            "Hieronder vindt u de nodige gegevens. Aarzel niet om mij te contacteren als "
            "u nog bijkomende informatie nodig hebt.",
            "Alvast bedankt voor uw hulp en voor een snel antwoord, want het gaat om een "
            "dringende aanvraag voor mijn werkgever.",
        ],
        "closings": [
            "Met vriendelijke groeten,",
            "Vriendelijke groeten,",
            "Alvast bedankt,",
            "Groeten,",
        ],
        "names": [
            "Jan Peeters",
            "An Janssens",
            "Pieter Maes",
            "Els Jacobs",
            "Tom Mertens",
            "Sofie Willems",
            "Koen Claes",
            "Lotte Goossens",
            "Dienst Bevolking",
        ],
        "prefixes": ["RE:", "Antw:", "Re:", "Fwd:"],
        "attribution": "Op {date} schreef Rijksregister <info@rn.example>:",
        "answers": [
            "Goedemiddag,\n\nDe toegangssleutel werd gedeblokkeerd. U kunt opnieuw "
            "inloggen.\n\nMet vriendelijke groeten,\nHelpdesk Rijksregister",
            "Goedendag,\n\nKunt u ons uw geboortedatum en uw woonplaats bezorgen?\n\n"
            "Helpdesk Rijksregister\nTel. 02/518 21 31",
        ],
        "files": ["attest.pdf", "scan eID.pdf", "schermafbeelding.png"],
    },
    "de": {
        "content_language": "de-BE",
        "subjects": [
            "Zugangsschlüssel gesperrt",
            "Antrag auf Wohnsitzbescheinigung",
            "Adressänderung in Mein Dossier nicht sichtbar",
            "PIN-Code des Personalausweises vergessen",
            "Fehler in der Schreibweise meines Namens",
        ],
        "greetings": ["Sehr geehrte Damen und Herren,", "Guten Tag,", "Hallo,"],
        "paragraphs": [
            "Seit heute Morgen ist mein Zugangsschlüssel nach drei Fehlversuchen gesperrt. "
            "Ich kann mich nicht mehr bei Mein Dossier anmelden.",
            "Ich bin vor drei Wochen umgezogen und die Gemeinde hat die Adressänderung "
            "eingetragen, aber in Mein Dossier steht noch die alte Adresse.",
            "Könnten Sie den Schlüssel entsperren oder neue Codes an meine Wohnadresse "
            "schicken? Ich brauche die Bescheinigung bis Ende des Monats.",
            "Mein Familienname ist auf der Bescheinigung über die Haushaltszusammensetzung "
            "falsch geschrieben. Wie kann ich das berichtigen lassen?",
            "Die Gemeindeverwaltung hat mir geraten, mich direkt an Sie zu wenden, da das "
            "Problem beim Nationalregister liegen soll.",
            "Vielen Dank im Voraus für Ihre Hilfe und eine schnelle Antwort, da es sich "
            "um einen dringenden Antrag für meinen Arbeitgeber handelt.",
        ],
        "closings": ["Mit freundlichen Grüßen", "Freundliche Grüße", "Vielen Dank und Grüße"],
        "names": [
            "Hans Müller",
            "Anna Schmitz",
            "Jürgen Weber",
            "Petra Lentz",
            "Einwohnermeldeamt",
        ],
        "prefixes": ["AW:", "WG:", "AW: AW:"],
        "attribution": "Am {date} schrieb Nationalregister <info@rn.example>:",
        "answers": [
            "Guten Tag,\n\nder Zugangsschlüssel wurde entsperrt.\n\nMit freundlichen "
            "Grüßen\nHelpdesk Nationalregister",
        ],
        "files": ["Bescheinigung.pdf", "Ausweis-Scan.pdf", "Bildschirmfoto.png"],
    },
    "en": {
        "content_language": "en",
        "subjects": [
            "Access key blocked",
            "Request for a certificate of residence",
            "Change of address not visible in My File",
            "Forgot the PIN code of my eID card",
            "Spelling mistake in my name",
        ],
        "greetings": ["Hello,", "Dear Sir or Madam,", "Good morning,"],
        "paragraphs": [
            "Since this morning my access key has been blocked after three attempts with "
            "a wrong code. I can no longer log in to My File to download my certificates.",
            "I moved three weeks ago and the municipality registered my change of address, "
            "but My File still shows my old address.",
            "Could you unblock my key or send a new letter with the codes to my home "
            "address? I need the certificate before the end of the month.",
            "My surname is misspelled on the household composition certificate. How can "
            "I have this corrected?",
            "The municipality advised me to contact you directly, as the problem seems to "
            "be with the National Register.",
            "Thank you in advance for your help and a quick answer, as this is an urgent "
            "request for my employer.",
        ],
        "closings": ["Kind regards,", "Best regards,", "Thanks in advance,"],
        "names": ["John Smith", "Emma Brown", "David Wilson", "Sarah Taylor", "Population Office"],
        "prefixes": ["Re:", "RE:", "Fwd:", "Re: Re:"],
        "attribution": "On {date}, National Register <info@rn.example> wrote:",
        "answers": [
            "Hello,\n\nYour access key has been unblocked. You can log in again.\n\n"
            "Kind regards,\nNational Register help desk",
        ],
        "files": ["certificate.pdf", "eID scan.pdf", "screenshot.png"],
    },
}

_DOMAINS = {
    "fr": ["citizen.example", "commune.example", "webmail.example", "provider.test"],
    "nl": ["citizen.example", "gemeente.example", "webmail.example", "inbox.test"],
    "de": ["citizen.example", "gemeinde.example", "webmail.example"],
    "en": ["citizen.example", "expat.example", "mail.test"],
}
_MAILERS = [
    "X-Mailer: Microsoft Outlook 16.0",
    "User-Agent: Mozilla Thunderbird",
    "X-Mailer: Apple Mail (2.3826.300.87.4.3)",
    "User-Agent: Roundcube Webmail/1.6.9",
    "X-Mailer: iPhone Mail (22D72)",
]


def _ascii(text: str) -> str:
    """Strip accents and keep [a-z0-9.] for local parts."""
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else "." for c in flat).strip(".")


def _lang(lang: str) -> dict[str, object]:
    if lang not in _TEXT:
        raise ValueError(f"unknown lang {lang!r}, expected one of {LANGS}")
    return _TEXT[lang]


def _compose_body(lang: str, rng: random.Random, n_paragraphs: int, name: str) -> str:
    t = _lang(lang)
    paras = rng.sample(t["paragraphs"], min(n_paragraphs, len(t["paragraphs"])))  # type: ignore[arg-type]
    chunks = [rng.choice(t["greetings"])]  # type: ignore[arg-type]
    chunks += [textwrap.fill(p, 72) for p in paras]
    chunks.append(f"{rng.choice(t['closings'])}\n{name}")  # type: ignore[arg-type]
    return "\n\n".join(chunks) + "\n"


def _set_headers(
    msg: EmailMessage, extra: Mapping[str, str] | Iterable[tuple[str, str]] | None
) -> None:
    if not extra:
        return
    items = extra.items() if isinstance(extra, Mapping) else extra
    seen: set[str] = set()
    for name, value in items:
        if name.lower() not in seen:
            del msg[name]
            seen.add(name.lower())
        msg[name] = value


def _base_message(
    subject: str,
    from_addr: str,
    *,
    to_addr: str = HELPDESK,
    message_id: str | None = None,
    date: _dt.datetime | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or _dt.datetime.now(_TZ))
    if message_id is None:
        domain = from_addr.rpartition("@")[2].rstrip(">") or "citizen.example"
        message_id = make_msgid(domain=domain)
    if message_id:
        msg["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    return msg


# --------------------------------------------------------------------------- ordinary
def simple(
    subject: str | None = None,
    body: str | None = None,
    from_addr: str | None = None,
    message_id: str | None = None,
    extra_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    lang: str = "fr",
    *,
    to_addr: str = HELPDESK,
    date: _dt.datetime | None = None,
    crlf: bool = False,
) -> bytes:
    """Ordinary text/plain request; defaults follow `lang`; message_id "" omits, None generates."""
    t = _lang(lang)
    rng = random.Random(f"{subject}|{from_addr}|{lang}")
    name = t["names"][0]  # type: ignore[index]
    if subject is None:
        subject = t["subjects"][0]  # type: ignore[index]
    if from_addr is None:
        from_addr = formataddr((name, f"{_ascii(name)}@citizen.example"))  # type: ignore[arg-type]
    if body is None:
        body = _compose_body(lang, rng, 2, name)  # type: ignore[arg-type]
    msg = _base_message(subject, from_addr, to_addr=to_addr, message_id=message_id, date=date)
    msg.set_content(body)
    msg["Content-Language"] = str(t["content_language"])  # after set_content (it clears Content-*)
    _set_headers(msg, extra_headers)
    return msg.as_bytes(policy=_policy.SMTP if crlf else _POLICY)


# --------------------------------------------------------------------------- large
def huge_attachment(mb: int = 50) -> bytes:
    """Request with one `mb` MiB base64 PDF attachment (size limits, streaming, memory)."""
    msg = _base_message(
        "Scan de tous mes documents",
        "Jean Dupont <jean.dupont@citizen.example>",
        message_id="<huge-attachment@citizen.example>",
        date=_BASE_DATE,
    )
    msg.set_content("Bonjour,\n\nvoici le scan complet de mes documents.\n\nJean Dupont\n")
    marker = "HUGE-ATTACHMENT-PAYLOAD"
    msg.add_attachment(marker, subtype="plain", cte="7bit", filename="scan-complet.pdf")
    part = msg.get_payload()[1]
    part.replace_header("Content-Type", 'application/pdf; name="scan-complet.pdf"')
    part.replace_header("Content-Transfer-Encoding", "base64")
    data = b"%PDF-1.4\n" + random.Random(mb).randbytes(mb * 1024 * 1024 - 9)
    # base64.encodebytes (C) gives 76-char lines; the generator would be ~10x slower.
    return msg.as_bytes().replace(marker.encode() + b"\n", base64.encodebytes(data), 1)


def many_parts(n: int = 5000) -> bytes:
    """multipart/mixed with `n` tiny text attachments (part-count limits, O(n^2) walks)."""
    msg = _base_message(
        "Beaucoup de pièces jointes",
        "Luc Martin <luc.martin@citizen.example>",
        message_id="<many-parts@citizen.example>",
        date=_BASE_DATE,
    )
    msg.set_content("Voir les pièces jointes.\n")
    msg.add_attachment("Partie numero @@N@@\n", filename="partie-@@N@@.txt")
    head, _, rest = msg.as_bytes().partition(b"\n--")
    boundary = msg.get_boundary().encode()
    first, template = rest.split(b"\n--" + boundary + b"\n", 1)
    template = template.rsplit(b"\n--" + boundary + b"--", 1)[0]
    sep = b"\n--" + boundary + b"\n"
    parts = [template.replace(b"@@N@@", str(i).encode()) for i in range(1, n + 1)]
    return head + b"\n--" + first + sep + sep.join(parts) + b"\n--" + boundary + b"--\n"


def deep_nesting(depth: int = 200) -> bytes:
    """`depth` nested multipart/mixed levels around one text part (parser recursion limits)."""
    leaf = EmailMessage(policy=_POLICY)
    leaf.set_content("Le texte le plus profond / de diepste tekst.\n")
    leaf_bytes = leaf.as_bytes()
    top = _base_message(
        "Imbrication profonde",
        "Marie Lambert <marie.lambert@citizen.example>",
        message_id="<deep-nesting@citizen.example>",
        date=_BASE_DATE,
    )
    head = top.as_bytes().rstrip(b"\n")
    out = [head + b'\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="nest-0"\n\n']
    for level in range(depth):
        out.append(b"--nest-%d\n" % level)
        if level + 1 < depth:
            out.append(b'Content-Type: multipart/mixed; boundary="nest-%d"\n\n' % (level + 1))
    out.append(leaf_bytes)
    out.extend(b"\n--nest-%d--\n" % level for level in reversed(range(depth)))
    return b"".join(out)


# --------------------------------------------------------------------------- broken
def truncated_mime() -> bytes:
    """multipart/mixed cut in the middle of a base64 line; closing boundary never sent."""
    msg = _base_message(
        "Attestation (envoi interrompu)",
        "Sophie Dubois <sophie.dubois@citizen.example>",
        message_id="<truncated-mime@citizen.example>",
        date=_BASE_DATE,
    )
    msg.set_content("Bonjour,\n\nvoici l'attestation en pièce jointe.\n\nSophie\n")
    msg.add_attachment(
        b"%PDF-1.4\n" + random.Random(7).randbytes(4000),
        maintype="application",
        subtype="pdf",
        filename="attestation.pdf",
    )
    raw = msg.as_bytes()
    body_start = raw.index(b"\n\n", raw.index(b"filename=")) + 2
    return raw[: body_start + 77 * 20 + 30]  # 20 full base64 lines (76 chars + LF), then 30 chars


def garbage_headers() -> bytes:
    """8-bit garbage and NULs in header names/values, a 100 KB unfolded line, a colon-less line."""
    raw = simple(
        "placeholder",
        "Bonjour,\n\nle corps est normal.\n",
        "Luc Martin <luc@citizen.example>",
        message_id="<garbage-headers@citizen.example>",
        date=_BASE_DATE,
    )
    head, _, body = raw.partition(b"\n\n")
    lines = [ln for ln in head.split(b"\n") if not ln.startswith(b"Subject:")]
    # Python's parser ends the header block at the first line that is not a valid
    # header (8-bit/NUL name, no colon), so those come last to keep the others parsed.
    bad = [
        b" continuation line before any header",
        b"Subject: Cl\xe9 \x00 bloqu\xe9e \x1b[31m\xff\xfe\xc3\x28 \x80\x81",
        b"X-Garbage: \xff\xfe\x80\x81 caf\xe9 \xc3\x28 NUL:\x00:NUL \x7f\x01\x02",
        b"Reply-To: <\x00@\xff.example>",
        b"X-Overlong: " + b"A" * (100 * 1024),
        b'Content-Type: text/plain; charset="\xff\xfe"; \x00=\x00',
        b"X-\xe9t\xe9-\xff: 8-bit bytes in the header name",
        b"X-Nul\x00Name: NUL inside the header name",
        b"This header line has no colon at all",
    ]
    lines = [line for line in lines if not line.startswith(b"Content-Type:")]
    return b"\n".join(bad[:1] + lines + bad[1:]) + b"\n\n" + body


def zip_bomb(expanded_mb: int = 1100) -> bytes:
    """Request with a ~1 MB .zip declaring `expanded_mb` MiB of zeros (decompression limits)."""
    data = _zip_of_zeros(expanded_mb)
    msg = _base_message(
        "Documents demandés",
        "Jean Dupont <jean.dupont@citizen.example>",
        message_id="<zip-bomb@citizen.example>",
        date=_BASE_DATE,
    )
    msg.set_content("Bonjour,\n\nles documents demandés sont dans l'archive.\n\nJean\n")
    msg.add_attachment(data, maintype="application", subtype="zip", filename="documents.zip")
    return msg.as_bytes()


@functools.lru_cache(maxsize=4)
def _zip_of_zeros(expanded_mb: int) -> bytes:
    """Zip with one deflated entry of zeros.

    Compressing >1 GiB with ``zipfile`` takes ~2 s, so the deflate stream is
    assembled from identical Z_FULL_FLUSH blocks (exactly what zlib emits for
    each 1 MiB of zeros) and wrapped in a hand-written zip container; the result
    reads back with ``zipfile`` like any other archive.
    """
    chunk = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    assert comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH) == block
    stream = first + block * (expanded_mb - 2) + comp.compress(chunk) + comp.flush()
    crc = 0
    for _ in range(expanded_mb):
        crc = zlib.crc32(chunk, crc)
    size = expanded_mb << 20
    name = b"registre_export.csv"
    dos_time, dos_date = (8 << 11) | (0 << 5), ((2025 - 1980) << 9) | (3 << 5) | 3
    local = (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            0,
            8,
            dos_time,
            dos_date,
            crc,
            len(stream),
            size,
            len(name),
            0,
        )
        + name
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | 20,
            20,
            0,
            8,
            dos_time,
            dos_date,
            crc,
            len(stream),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0o100644 << 16,
            0,
        )
        + name
    )
    cd_offset = len(local) + len(stream)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), cd_offset, 0)
    return local + stream + central + end


def no_body() -> bytes:
    """Headers only: no blank separator line and no body at all."""
    raw = simple(
        "Sans corps",
        "",
        "Luc Martin <luc@citizen.example>",
        message_id="<no-body@citizen.example>",
        date=_BASE_DATE,
    )
    return raw.partition(b"\n\n")[0] + b"\n"


def empty() -> bytes:
    """A zero-byte message."""
    return b""


def binary_junk(n: int = 4096, seed: int = 0) -> bytes:
    """`n` deterministic random bytes (not a message at all)."""
    return random.Random(seed).randbytes(n)


# --------------------------------------------------------------------------- bulk
_KINDS = ("plain", "alt", "attach", "html")
_KIND_WEIGHTS = (50, 28, 17, 5)
_CTES = ("8bit", "quoted-printable", "base64")


@functools.cache
def _skeleton(kind: str, cte: str, att: str) -> bytes:
    """MIME structure rendered once by the email package, with @@TEXT@@/@@HTML@@/@@ATT@@ slots."""
    msg = EmailMessage(policy=_POLICY)
    if kind == "html":
        msg.set_content("@@HTML@@\n", subtype="html", cte="7bit")
    else:
        msg.set_content("@@TEXT@@\n", cte="7bit")
    if kind == "alt":
        msg.add_alternative("@@HTML@@\n", subtype="html", cte="7bit")
    if kind == "attach":
        maintype, subtype = ("image", "png") if att.endswith(".png") else ("application", "pdf")
        msg.add_attachment(b"", maintype=maintype, subtype=subtype, filename=att)
        msg.get_payload()[1].set_payload("@@ATT@@\n")
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]
        if part.get_content_maintype() == "text":
            part.set_param("charset", "utf-8")
            part.replace_header("Content-Transfer-Encoding", cte)
    if msg.is_multipart():
        msg.set_boundary("----=_Part_@@BND@@")
    return msg.as_bytes()


def _encode(text: str, cte: str) -> bytes:
    data = text.encode("utf-8")
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return binascii.b2a_qp(data) + (b"" if data.endswith(b"\n") else b"\n")
    return data


@functools.cache
def _pools(lang: str) -> dict[str, list]:
    """Pre-encoded header values (RFC 2047 via the email package) for one language."""
    t = _lang(lang)
    senders = []
    for name in t["names"]:  # type: ignore[union-attr]
        for domain in _DOMAINS[lang]:
            senders.append(
                (name, formataddr((name, f"{_ascii(name)}@{domain}"), charset="utf-8"), domain)
            )
    subjects = [(s, Header(s, "utf-8").encode() if not s.isascii() else s) for s in t["subjects"]]  # type: ignore[union-attr]
    return {"senders": senders, "subjects": subjects}


@functools.cache
def _attachments() -> list[bytes]:
    rng = random.Random(1234)
    return [
        base64.encodebytes(b"%PDF-1.4\n" + rng.randbytes(size)) for size in (1200, 1800, 2600, 3400)
    ]


def _received(rng: random.Random, domain: str, when: _dt.datetime) -> str:
    qid = f"{rng.getrandbits(40):010X}"
    ip = f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"
    lan = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    d1 = format_datetime(when + _dt.timedelta(seconds=2))
    d2 = format_datetime(when + _dt.timedelta(seconds=3))
    return (
        f"Received: from mx1.rn.example (mx1.rn.example [198.51.100.10])\n"
        f"\tby imap.rn.example (Postfix) with ESMTPS id {qid[::-1]}\n"
        f"\tfor <info@rn.example>; {d2}\n"
        f"Received: from smtp.{domain} (smtp.{domain} [{ip}])\n"
        f"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
        f"\tby mx1.rn.example (Postfix) with ESMTPS id {qid}\n"
        f"\tfor <info@rn.example>; {d1}\n"
        f"Received: from [{lan}] (client.{domain} [{ip}])\n"
        f"\tby smtp.{domain} (Postfix) with ESMTPSA id {qid[3:]}{qid[:3]}\n"
        f"\tfor <info@rn.example>; {format_datetime(when)}\n"
        f"Authentication-Results: mx1.rn.example;\n"
        f"\tdkim=pass (2048-bit key) header.d={domain} header.i=@{domain};\n"
        f"\tspf=pass (mx1.rn.example: domain of {domain} designates {ip} as permitted sender)\n"
        f"\tsmtp.mailfrom={domain}; dmarc=pass (p=quarantine) header.from={domain}\n"
        f"X-Spam-Status: No, score=-{rng.randrange(0, 30) / 10:.1f} required=5.0\n"
        f"\ttests=BAYES_00,DKIM_SIGNED,DKIM_VALID,SPF_PASS autolearn=ham\n"
        f"X-Virus-Scanned: clamav-milter at mx1.rn.example\n"
    )


def _dkim(rng: random.Random, domain: str) -> str:
    bh = base64.b64encode(rng.randbytes(32)).decode()
    sig = base64.b64encode(rng.randbytes(256)).decode()
    folded = "\n\t ".join(sig[i : i + 70] for i in range(0, len(sig), 70))
    return (
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=sel2025;\n"
        f"\th=from:to:subject:date:message-id:mime-version:content-type; bh={bh};\n"
        f"\tb={folded}\n"
    )


def mixed_batch(n: int, seed: int = 0) -> list[bytes]:
    """`n` varied ~3.6 KB requests (fr/nl/de/en, replies, HTML, attachments) for benchmarks."""
    rng = random.Random(seed)
    out: list[bytes] = []
    atts = _attachments()
    for i in range(n):
        lang = rng.choices(LANGS, (40, 40, 8, 12))[0]
        t = _TEXT[lang]
        pools = _pools(lang)
        name, from_hdr, domain = rng.choice(pools["senders"])
        subj_plain, subj_hdr = rng.choice(pools["subjects"])
        kind = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
        cte = rng.choice(_CTES)
        reply = rng.random() < 0.22
        when = _BASE_DATE + _dt.timedelta(seconds=rng.randrange(90 * 86400))
        att = rng.choice(t["files"]) if kind == "attach" else ""  # type: ignore[arg-type]
        text = _compose_body(
            lang, rng, rng.randint(2, 4) if kind == "alt" else rng.randint(3, 6), name
        )
        headers = [_received(rng, domain, when), f"From: {from_hdr}\n", "To: info@rn.example\n"]
        if reply:
            ticket = rng.randrange(1, 100000)
            prefix = rng.choice(t["prefixes"])  # type: ignore[arg-type]
            headers.append(f"Subject: {prefix} [RN #{ticket}] {subj_hdr}\n")
            ours = f"<rn-{ticket}-{rng.randrange(1, 9)}@rn.example>"
            headers.append(f"In-Reply-To: {ours}\nReferences: <req-{ticket}@{domain}>\n {ours}\n")
            answer: str = rng.choice(t["answers"])  # type: ignore[arg-type]
            quoted = "\n".join("> " + ln if ln else ">" for ln in answer.split("\n"))
            attribution = str(t["attribution"]).format(
                date=format_datetime(when - _dt.timedelta(days=1))
            )
            text = f"{text}\n{attribution}\n\n{quoted}\n"
        else:
            headers.append(f"Subject: {subj_hdr}\n")
        headers.append(f"Date: {format_datetime(when)}\n")
        headers.append(f"Message-ID: <{seed}.{i}.{rng.getrandbits(48):012x}@{domain}>\n")
        headers.append(f"Content-Language: {t['content_language']}\n{rng.choice(_MAILERS)}\n")
        if rng.random() < 0.85:
            headers.append(_dkim(rng, domain))
        raw = "".join(headers).encode("ascii") + _skeleton(kind, cte, att)
        if kind in ("alt", "html"):
            paras = "".join(
                f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>\n" for p in text.split("\n\n")
            )
            title = html.escape(subj_plain)
            body_html = (
                f'<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
                f'<body style="font-family:Calibri,sans-serif">\n{paras}</body></html>\n'
            )
            raw = raw.replace(b"@@HTML@@\n", _encode(body_html, cte), 1)
        raw = raw.replace(b"@@TEXT@@\n", _encode(text, cte), 1)
        if kind == "attach":
            raw = raw.replace(b"@@ATT@@\n", rng.choice(atts), 1)
        if kind in ("alt", "attach"):
            raw = raw.replace(b"@@BND@@", b"%d_%012x" % (i, rng.getrandbits(48)))
        if rng.random() < 0.3:
            raw = raw.replace(b"\n", b"\r\n")
        out.append(raw)
    return out
