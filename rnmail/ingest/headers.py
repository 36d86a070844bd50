"""Headers: who sent a mail, read as RFC 5322 says, and header blocks real mailers break.

**Addresses.** An address header is parsed by the standard library's RFC 5322 parser (the
one behind ``email.headerregistry`` and ``email.policy.default``) *before* any RFC 2047
decoding: an encoded word can only ever be part of a display name or a comment, so
``From: =?utf-8?q?marie=40rn.example?= <x@other.example>`` is x@other.example, and a
display name is never searched for an address. Plain shapes (``Name <a@b>``, ``a@b``, with
nothing but letters, digits, spaces and dots in the name) take a regular-expression fast
path that gives the same answer (tests/test_sender.py compares the two).

The sender is the From header's single mailbox. A mail whose From holds several mailboxes,
none (empty, ``undisclosed:;``, ``<>``), or something the parser could only read by
skipping text (``marie@rn.example <x@other.example>``), or that has several From headers,
has no verifiable sender: ``Sender`` is its problem (``problem`` says which), and
``classify`` treats it as automatic mail — stored, never acknowledged, never a staff action.

**Broken header blocks.** Some gateways and forwarding scripts put a line before the
headers (``---- Original email message ----``) or wrap a long header without the leading
space of a continuation line. The stdlib parser then sees no headers at all.
``repair_header_block`` runs only then (the parser reported a missing header/body separator)
and does what other help desks' lenient scanners do: drop leading lines that are not
headers, and join column-0 lines that sit between two headers to the header above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import _header_value_parser as rfc5322

_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_ADDR = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
# A plain mailbox: the parser's answer is obvious, and the parser costs ~0.1 ms a header.
_PLAIN = re.compile(rf"[ \t]*(?:([A-Za-z0-9 \t.'_-]*?)[ \t]*<({_ADDR})>|({_ADDR}))[ \t]*")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SAME_TWICE = re.compile(rf"[ \t]*({_ADDR})[ \t]*<({_ADDR})>[ \t]*")
# A header field line (RFC 5322 §2.2: printable ASCII but the colon, then a colon).
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")


@dataclass(frozen=True)
class Sender:
    address: str  # lower-cased addr-spec; "" when there is no verifiable sender
    name: str  # display name, RFC 2047 decoded ("" when none)
    problem: str | None = None  # why there is no verifiable sender


def read_sender(values: list[str]) -> Sender:
    """The sender of a mail from its From header values (unfolded, raw bytes decoded)."""
    if not values:
        return Sender("", "", "no From header")
    if len(values) > 1:
        return Sender("", "", f"{len(values)} From headers")
    mailboxes, garbled = read_mailboxes(values[0])
    if garbled:
        return Sender("", "", "From header the RFC 5322 parser cannot read whole")
    if not mailboxes:
        return Sender("", "", "no address in From")
    if len(mailboxes) > 1:
        return Sender("", "", f"{len(mailboxes)} addresses in From")
    name, address = mailboxes[0]
    return Sender(address, name)


def read_addresses(values: list[str]) -> list[str]:
    """The addr-specs of address headers (To, Cc, Reply-To); none from a garbled one."""
    found: list[str] = []
    for value in values:
        mailboxes, garbled = read_mailboxes(value)
        if not garbled:
            found += [address for _, address in mailboxes]
    return found


def read_mailboxes(value: str) -> tuple[list[tuple[str, str]], bool]:
    """``(display name, addr-spec)`` of each mailbox with a domain, group members included,
    and whether the parser had to skip text it could not read as an address."""
    value = _FOLD.sub("", value).strip()
    if not value:
        return [], False
    fast = _fast(value)
    if fast is not None:
        return fast, False
    try:
        parsed, rest = rfc5322.get_address_list(value)
    except Exception:  # the parser raises on a few hostile inputs
        return [], True
    if rest or any(str(d).startswith("invalid address in address-list")
                   for d in parsed.all_defects):
        same = _SAME_TWICE.fullmatch(value)  # "a@b.example <a@b.example>": one mailbox
        if same and same.group(1).lower() == same.group(2).lower():
            return [("", same.group(2).lower())], False
        return [], True
    found = []
    for mailbox in parsed.all_mailboxes:
        local, domain = mailbox.local_part, mailbox.domain
        if local and domain:
            name = " ".join(str(mailbox.display_name or "").split())
            found.append((name, f"{local}@{domain}".lower()))
    return found, False


def _fast(value: str) -> list[tuple[str, str]] | None:
    if not value.isascii() or any(c in value for c in '"()\\;:[]'):
        return None
    found = []
    for item in value.split(","):
        if not item.strip():
            continue
        match = _PLAIN.fullmatch(item)
        if match is None or "=?" in item:
            return None
        name, angled, bare = match.groups()
        found.append((" ".join((name or "").split()), (angled or bare).lower()))
    return found


def repair_header_block(raw: bytes) -> bytes | None:
    """``raw`` with a recoverable header block made standard, or None if nothing to recover:
    leading lines before the first header dropped, column-0 continuation lines between two
    headers folded into the header above. Lines after the last header that are not headers
    are left alone: they are the body of a mail without its blank separator line."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    cut = min(ends) if ends else len(raw)
    head, body = raw[:cut], raw[cut:].lstrip(b"\r\n")
    eol = b"\r\n" if b"\r\n" in head[:4000] else b"\n"
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    starts = [i for i, line in enumerate(lines[:400]) if _FIELD.match(line)]
    if not starts or starts[0] > 10:  # a few lines of gateway banner, not a page of text
        return None
    first, last = starts[0], starts[-1]
    end = last + 1
    while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
        end += 1
    header: list[bytes] = []
    for line in lines[first:end]:
        if _FIELD.match(line) or line[:1] in (b" ", b"\t"):
            header.append(line)
        elif line.strip():
            header.append(b" " + line.strip())
    rest = [*lines[end:]]
    rebuilt = eol.join(header) + eol + eol
    if rest:
        rebuilt += eol.join(rest) + eol + eol
    return rebuilt + body
