"""Who really sent it: the trusted gateway's ``Authentication-Results`` and spam headers.

Anyone can write any header, so rnmail believes only what the organisation's own mail
gateway added (``[ingest] trusted_authserv_id``). A gateway adds its headers *above* those
it received, so the gateway's ``Authentication-Results`` (RFC 8601) are the topmost ones;
one the sender wrote sits lower. The rule, precisely:

1. Take the ``Authentication-Results`` headers in order, from the top of the header section.
2. The topmost one must carry the trusted authserv-id (compared case-insensitively; with
   ``trusted_without_authserv_id``, one without any authserv-id, as Microsoft 365 writes
   them). If it carries another one (another hop wrote it after the gateway, or the gateway
   wrote none and this is the sender's), nothing is read: the verdict is ``none``.
3. The gateway's block is that header and the following ones with the trusted id, down to
   the first ``Received`` header after it or the first ``Authentication-Results`` of another
   authserv-id, whichever comes first. Headers the gateway interleaves (OpenDKIM's
   ``DKIM-Filter``, OpenDMARC's ``DMARC-Filter``) do not end it. Anything below the block is
   never read, however it is labelled.
4. Within the block, the topmost result of each method wins (a forged ``dmarc=pass`` placed
   right under the gateway's ``dmarc=fail`` changes nothing); several ``dkim`` results are
   all kept.

The gateway should also remove incoming headers that carry its own authserv-id (RFC 8601
§5): when it writes none at all, a forged header with its id would be the topmost.

The **verdict**: ``fail`` (the sender is *unverified*) when DMARC fails, or, when there is
no DMARC result (absent, ``none``, ``temperror``), when neither SPF nor any DKIM signature
passes and at least one of them failed (``fail``, ``softfail``, ``permerror``, ``policy``);
``pass`` when DMARC, SPF or a DKIM signature passes; ``none`` otherwise (no gateway header,
nothing decisive). Without a trusted gateway configured there is no verdict at all (None):
nothing changes.

**Spam.** A spam flag (``X-Spam-Flag: YES``, ``X-Spam: yes``, ``X-Spam-Status: Yes, …``;
the header names are configurable) anywhere in the header section is honoured, with or
without a trusted gateway: a sender who flags their own mail only hurts themselves. A spam
*score* (``X-Spam-Status: … score=7.1``, ``X-Spam-Score``, ``X-Rspamd-Score``) is read
only with a trusted gateway, from the topmost header of that name, and means spam when it
is above ``spam_threshold``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rnmail.config import IngestConfig

AR = "authentication-results"
RESULTS = frozenset({"none", "pass", "fail", "softfail", "neutral", "temperror",
                     "permerror", "policy", "hardfail"})
FAILED = frozenset({"fail", "hardfail", "softfail", "permerror", "policy"})
_SPACE = re.compile(r"\s+")
_RESINFO = re.compile(r"^([A-Za-z0-9_.-]+)(?:/[0-9]+)?\s*=\s*([A-Za-z]+)\b")
_SCORE = re.compile(r"\bscore\s*=\s*(-?[0-9]+(?:\.[0-9]+)?)", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*\[?\s*(-?[0-9]+(?:\.[0-9]+)?)")
_YES = frozenset({"yes", "true", "1", "spam"})


@dataclass(frozen=True)
class AuthResults:
    """One ``Authentication-Results`` header: its authserv-id and each method's results."""

    authserv_id: str | None  # lower-cased; None when the header has none (Microsoft 365)
    results: tuple[tuple[str, str], ...]  # (method, result), lower-cased, in order


@dataclass(frozen=True)
class Screening:
    """What the headers say about a mail: who sent it and whether it is spam."""

    verdict: str | None  # pass | fail | none; None without a trusted gateway
    methods: dict[str, list[str]] = field(default_factory=dict)  # what the gateway found
    spam: str | None = None  # why it is spam, or None

    @property
    def unverified(self) -> bool:
        return self.verdict == "fail"


def _strip_comments(value: str) -> str:
    """``value`` without RFC 5322 comments (nested parentheses) outside quoted strings."""
    out, depth, quoted, escaped = [], 0, False, False
    for ch in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            quoted = ch != '"'
            out.append(ch)
        elif ch == '"' and depth == 0:
            quoted = True
            out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _split(value: str, sep: str) -> list[str]:
    """``value`` split on ``sep`` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_authentication_results(value: str) -> AuthResults:
    """One header's value, read leniently: folded, commented, odd spacing, any case.

    ``authserv-id [version] *( ";" resinfo )``; a value whose first element already is a
    ``method=result`` has no authserv-id."""
    text = _SPACE.sub(" ", _strip_comments(value)).strip()
    items = [item.strip() for item in _split(text, ";")]
    first = items[0] if items else ""
    authserv_id: str | None
    if _RESINFO.match(first):
        authserv_id, rest = None, items
    else:
        authserv_id = first.split(" ", 1)[0].strip('"').lower() or None
        rest = items[1:]
    results = []
    for item in rest:
        match = _RESINFO.match(item)
        if match and match.group(2).lower() in RESULTS:
            results.append((match.group(1).lower(), match.group(2).lower()))
    return AuthResults(authserv_id, tuple(results))


def gateway_results(headers: list[tuple[str, str]], authserv_id: str,
                    without_id: bool = False) -> list[AuthResults]:
    """The trusted gateway's block of ``Authentication-Results`` (see the module's rule);
    ``headers`` are ``(name, value)`` in order from the top."""
    wanted = authserv_id.lower()

    def trusted(found: AuthResults) -> bool:
        return (found.authserv_id is None and without_id) or (
            bool(wanted) and found.authserv_id == wanted)

    block: list[AuthResults] = []
    for name, value in headers:
        name = name.strip().lower()
        if name == "received" and block:
            break
        if name != AR:
            continue
        found = parse_authentication_results(value)
        if not trusted(found):
            break  # another hop's, above or inside: nothing below it is the gateway's
        block.append(found)
    return block


def topmost_authserv_id(headers: list[tuple[str, str]]) -> str | None:
    """The authserv-id of the topmost ``Authentication-Results`` (``""`` when it has none,
    as Microsoft 365 writes them; None when there is no such header): the one a trusted
    gateway must have written (``rnmail doctor`` compares it with the configured id)."""
    for name, value in headers:
        if name.strip().lower() == AR:
            return parse_authentication_results(value).authserv_id or ""
    return None


def verdict_of(block: list[AuthResults]) -> tuple[str, dict[str, list[str]]]:
    """``pass``, ``fail`` or ``none`` from the gateway's block, and the results it used."""
    methods: dict[str, list[str]] = {}
    for found in block:
        for method, result in found.results:
            if method == "dkim":
                methods.setdefault("dkim", []).append(result)
            elif method not in methods:  # the topmost result of a method wins
                methods[method] = [result]
    dmarc = methods.get("dmarc", [None])[0]
    spf = methods.get("spf", [None])[0]
    dkim = methods.get("dkim", [])
    if dmarc == "fail":
        return "fail", methods
    if dmarc == "pass" or spf == "pass" or "pass" in dkim:
        return "pass", methods
    if dmarc not in (None, "none", "temperror") and dmarc not in FAILED:
        return "none", methods  # e.g. dmarc=neutral: nothing decisive
    failed = (spf in FAILED) or any(result in FAILED for result in dkim)
    return ("fail" if failed else "none"), methods


def _values(headers: list[tuple[str, str]], names: tuple[str, ...]) -> list[str]:
    wanted = {n.lower() for n in names}
    return [_SPACE.sub(" ", v).strip() for n, v in headers if n in wanted]


def spam_reason(headers: list[tuple[str, str]], config: IngestConfig,
                gateway: bool) -> str | None:
    """Why the headers make the mail spam, or None. ``headers``: their names stripped and
    lower-cased (``screen_headers``), once for the several names asked for."""
    for value in _values(headers, config.spam_flag_headers):
        if value.split(" ", 1)[0].strip(",;").lower() in _YES:
            return f"spam flag ({value[:60]})"
    for value in _values(headers, config.spam_status_headers):
        if value.split(" ", 1)[0].strip(",;").lower() in _YES:
            return f"spam status ({value[:60]})"
    if not gateway:
        return None
    threshold = config.spam_threshold
    for names in (config.spam_status_headers, config.spam_score_headers):
        for name in names:
            [top, *_] = _values(headers, (name,)) or [""]
            match = _SCORE.search(top) if names is config.spam_status_headers else (
                _NUMBER.match(top))
            if match and float(match.group(1)) > threshold:
                return f"spam score {match.group(1)} > {threshold:g} ({name})"
    return None


def screen_headers(headers: list[tuple[str, str]], config: IngestConfig) -> Screening:
    """The sender's verdict and spam reason of a mail's ``headers`` (decoded, in order:
    ``ParsedMail.decoded_headers``), as ``config`` says to read."""
    gateway = bool(config.trusted_authserv_id) or config.trusted_without_authserv_id
    headers = [(name.strip().lower(), value) for name, value in headers]
    reason = spam_reason(headers, config, gateway)
    if not gateway:
        return Screening(None, {}, reason)
    block = gateway_results(headers, config.trusted_authserv_id,
                            config.trusted_without_authserv_id)
    verdict, methods = verdict_of(block)
    return Screening(verdict, methods, reason)
