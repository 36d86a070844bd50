"""Who really sent it (issue 19): only the trusted gateway's Authentication-Results count.

Header shapes as Postfix + OpenDKIM/OpenDMARC, rspamd and Microsoft 365 write them (with
reserved domains and documentation addresses), the sender's forgeries below them, another
hop's authserv-id, odd spacing and encodings, and spam headers.
"""

from __future__ import annotations

import email
import email.policy

import pytest

from rnmail.config import IngestConfig
from rnmail.ingest.authres import (
    gateway_results,
    parse_authentication_results,
    screen_headers,
    verdict_of,
)
from rnmail.ingest.parse import decoded_headers

GW = "mx.rn.example"
BODY = "From: Jan <jan@gemeente.example>\nTo: info@rn.example\nSubject: test\n\nHallo\n"

POSTFIX_PASS = f"""Received: from mx.rn.example (localhost [127.0.0.1])
\tby imap.rn.example (Dovecot LMTP) with LMTP id 4Q1abc
DMARC-Filter: OpenDMARC Filter v1.4.2 {GW} 4Q1abc
Authentication-Results: {GW}; dmarc=pass (p=reject dis=none) header.from=gemeente.example
Authentication-Results: {GW}; spf=pass smtp.mailfrom=gemeente.example
DKIM-Filter: OpenDKIM Filter v2.11.0 {GW} 4Q1abc
Authentication-Results: {GW};
\tdkim=pass (2048-bit key; unprotected) header.d=gemeente.example
\theader.i=@gemeente.example header.a=rsa-sha256 header.s=mail header.b="AbC;d12";
\tdkim-atps=neutral
Received: from mail.gemeente.example (mail.gemeente.example [192.0.2.10])
\tby {GW} (Postfix) with ESMTPS id 4Q1abc
"""

POSTFIX_FAIL = f"""DMARC-Filter: OpenDMARC Filter v1.4.2 {GW} 4Q1abc
Authentication-Results: {GW}; dmarc=fail (p=reject dis=none) header.from=gemeente.example
Authentication-Results: {GW}; spf=fail smtp.mailfrom=gemeente.example
DKIM-Filter: OpenDKIM Filter v2.11.0 {GW} 4Q1abc
Authentication-Results: {GW}; dkim=none
Received: from attacker.invalid (unknown [192.0.2.66])
\tby {GW} (Postfix) with ESMTP id 4Q1abc
"""

RSPAMD = f"""Authentication-Results: {GW};
\tdkim=pass header.d=gemeente.example header.s=dkim header.b=XyZ123;
\tdmarc=pass (policy=quarantine) header.from=gemeente.example;
\tspf=pass (mx.rn.example: domain of jan@gemeente.example designates 192.0.2.10 as
\t permitted sender) smtp.mailfrom=jan@gemeente.example
X-Rspamd-Queue-Id: 4Q1abc
X-Rspamd-Server: mx
X-Spamd-Result: default: False [-0.10 / 15.00]
X-Rspamd-Score: -0.10
X-Spam-Status: No, score=-0.10
Received: from mail.gemeente.example (mail.gemeente.example [192.0.2.10])
\tby {GW} (Postfix) with ESMTPS id 4Q1abc
"""

M365 = """Authentication-Results: spf=pass (sender IP is 192.0.2.10)
 smtp.mailfrom=gemeente.example; dkim=pass (signature was verified)
 header.d=gemeente.example;dmarc=pass action=none
 header.from=gemeente.example;compauth=pass reason=100
Received-SPF: Pass (protection.outlook.com: domain of gemeente.example designates
 192.0.2.10 as permitted sender) receiver=protection.outlook.com; client-ip=192.0.2.10;
Received: from mail.gemeente.example (192.0.2.10) by
 AM0PR01MB0001.eurprd01.prod.protection.outlook.example (2001:db8::1) with Microsoft SMTP
 Server id 15.20.7000.1
"""

M365_FAIL = """Authentication-Results: spf=fail (sender IP is 192.0.2.66)
 smtp.mailfrom=gemeente.example; dkim=none (message not signed)
 header.d=none;dmarc=fail action=quarantine
 header.from=gemeente.example;compauth=fail reason=000
Received: from attacker.invalid (192.0.2.66) by
 AM0PR01MB0001.eurprd01.prod.protection.outlook.example (2001:db8::1)
"""


def headers_of(raw: str) -> list[tuple[str, str]]:
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    return [(n, str(v)) for n, v in msg.items()]


def verdict(raw: str, gw: str = GW, without_id: bool = False) -> str:
    return verdict_of(gateway_results(headers_of(raw), gw, without_id))[0]


def test_the_three_gateways_shapes_parse() -> None:
    assert verdict(POSTFIX_PASS + BODY) == "pass"
    assert verdict(POSTFIX_FAIL + BODY) == "fail"
    assert verdict(RSPAMD + BODY) == "pass"
    assert verdict(M365 + BODY, "", without_id=True) == "pass"
    assert verdict(M365_FAIL + BODY, "", without_id=True) == "fail"
    _, methods = verdict_of(gateway_results(headers_of(POSTFIX_PASS + BODY), GW))
    assert methods == {"dmarc": ["pass"], "spf": ["pass"], "dkim": ["pass"],
                       "dkim-atps": ["neutral"]}


def test_a_forged_pass_below_the_gateways_fail_changes_nothing() -> None:
    """The sender wrote ``dmarc=pass`` with the gateway's id in their own headers."""
    forged = f"Authentication-Results: {GW}; dmarc=pass header.from=gemeente.example\n"
    assert verdict(POSTFIX_FAIL + forged + BODY) == "fail"
    # even right under the gateway's own header, with no Received between: topmost wins
    head, tail = POSTFIX_FAIL.split("DKIM-Filter", 1)
    assert verdict(head + forged + "DKIM-Filter" + tail + BODY) == "fail"
    # Microsoft 365: a forged header without authserv-id below the real one
    forged_ms = "Authentication-Results: spf=pass smtp.mailfrom=x; dmarc=pass action=none\n"
    assert verdict(M365_FAIL + forged_ms + BODY, "", without_id=True) == "fail"


def test_headers_of_another_authserv_id_are_never_read() -> None:
    other = "Authentication-Results: mx.attacker.invalid; dmarc=pass header.from=rn.example\n"
    assert verdict(other + BODY) == "none"  # not ours: nothing read
    # another hop's header above the gateway's name: what is below it is suspect
    forged = f"Authentication-Results: {GW}; dmarc=pass header.from=gemeente.example\n"
    assert verdict(other + forged + BODY) == "none"
    # the gateway's block, then another id, then a forged pass: the block alone counts
    assert verdict(POSTFIX_FAIL + other + forged + BODY) == "fail"
    # a header without authserv-id is not Microsoft's unless configured
    assert verdict(M365 + BODY) == "none"
    assert verdict(M365 + BODY, GW, without_id=False) == "none"


def test_missing_headers_give_no_verdict() -> None:
    assert verdict(BODY) == "none"
    assert verdict("Received: from x by mx.rn.example\n" + BODY) == "none"


@pytest.mark.parametrize("value, expected", [
    ("MX.RN.EXAMPLE;DMARC=FAIL header.from=gemeente.example", "fail"),
    ("  mx.rn.example   1 ;\n\t  spf = fail\n\t  (comment; with = signs) smtp.mailfrom=x", "fail"),
    ('mx.rn.example; dkim=fail (bad "sig; dmarc=pass") header.b="a;dmarc=pass"', "fail"),
    ("mx.rn.example; dkim=pass header.d=a.example; dkim=fail header.d=b.example", "pass"),
    ("mx.rn.example; spf=softfail smtp.mailfrom=x; dkim=none", "fail"),
    ("mx.rn.example; spf=neutral smtp.mailfrom=x; dkim=none", "none"),
    ("mx.rn.example; spf=temperror; dkim=temperror; dmarc=temperror", "none"),
    ("mx.rn.example; spf=fail; dkim=pass; dmarc=none", "pass"),
    ("mx.rn.example; dkim=permerror; dmarc=none", "fail"),
    ("mx.rn.example; dkim=policy; spf=none", "fail"),
    ("mx.rn.example; none", "none"),
    ("mx.rn.example (a comment) ; dmarc=pass", "pass"),
])
def test_odd_shapes_read_leniently(value: str, expected: str) -> None:
    raw = f"Authentication-Results: {value}\n{BODY}"
    assert verdict(raw) == expected, parse_authentication_results(value)


def test_an_encoded_header_is_read_decoded() -> None:
    raw = f"Authentication-Results: =?us-ascii?q?mx=2Ern=2Eexample=3B_dmarc=3Dfail?=\n{BODY}"
    config = IngestConfig(trusted_authserv_id=GW)
    message = email.message_from_string(raw, policy=email.policy.compat32)
    assert screen_headers(decoded_headers(message), config).verdict == "fail"


def screen(raw: str, **config: object) -> tuple[str | None, str | None]:
    message = email.message_from_string(raw, policy=email.policy.compat32)
    found = screen_headers(decoded_headers(message),
                           IngestConfig(**config))  # type: ignore[arg-type]
    return found.verdict, found.spam


def test_without_a_trusted_gateway_nothing_is_read_but_the_spam_flag() -> None:
    assert screen(POSTFIX_FAIL + BODY) == (None, None)
    assert screen("X-Spam-Score: 99\n" + BODY)[1] is None  # a score needs the gateway
    for flag in ("X-Spam-Flag: YES", "x-spam-flag: yes", "X-SPAM-FLAG:   Yes  ",
                 "X-Spam: yes", "X-Spam-Status: Yes, score=9.1 required=5.0"):
        assert screen(flag + "\n" + BODY)[1] is not None, flag
    for flag in ("X-Spam-Flag: NO", "X-Spam-Status: No, score=9.1", "X-Spam-Flag: YESTERDAY"):
        assert screen(flag + "\n" + BODY)[1] is None, flag


def test_spam_scores_with_a_gateway() -> None:
    gw = {"trusted_authserv_id": GW}
    assert screen(RSPAMD + BODY, **gw) == ("pass", None)
    assert screen("X-Spam-Status: No, score=7.5 required=5.0\n" + BODY, **gw)[1] == (
        "spam score 7.5 > 5 (X-Spam-Status)")
    assert screen("X-Spam-Score: 5.0\n" + BODY, **gw)[1] is None  # above, not equal
    assert screen("X-Rspamd-Score: 12.3\n" + BODY, **gw)[1] is not None
    assert screen("X-Spam-Score: 12\n" + BODY, **gw, spam_threshold=15.0)[1] is None
    # only the topmost score counts: one the sender wrote lower changes nothing
    assert screen("X-Spam-Score: 1.0\nX-Spam-Score: 50\n" + BODY, **gw)[1] is None
    # configurable names
    assert screen("X-Custom-Spam: YES\n" + BODY, spam_flag_headers=("X-Custom-Spam",))[1]
