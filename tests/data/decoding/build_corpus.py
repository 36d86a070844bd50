"""Builds the decoding corpus of tests/test_decoding_corpus.py: ``*.eml`` and manifest.json.

Run from the repository root: ``python tests/data/decoding/build_corpus.py``. The messages
are written byte by byte (the shapes real mailers produce, mislabelled charsets included);
``cpython_*.eml`` are small samples of CPython's Lib/test/test_email/data (PSF licence) with
their domains rewritten to reserved ones. Each manifest entry gives what a reader of the
mail sees: the sender address ("" for none that can be trusted), the subject, a snippet of
the body, and whether rnmail must keep it as a message or quarantine it.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
CPYTHON = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" \
    / "test" / "test_email" / "data"
ENTRIES: list[dict[str, str]] = []


def b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode()


def word(text: str, charset: str, codec: str | None = None) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec or charset)).decode()}?="


def add(name: str, raw: bytes, sender: str, subject: str, body: str, kind: str,
        outcome: str = "stored") -> None:
    (HERE / f"{name}.eml").write_bytes(raw)
    ENTRIES.append({"file": f"{name}.eml", "class": kind, "sender": sender, "subject": subject,
                    "body": body, "outcome": outcome})


def mail(headers: str, body: bytes, ctype: str = "text/plain; charset=utf-8",
         cte: str = "8bit") -> bytes:
    head = headers.strip("\n") + f"\nMIME-Version: 1.0\nContent-Type: {ctype}\n" \
        f"Content-Transfer-Encoding: {cte}\n"
    return head.encode("utf-8", "surrogateescape") + b"\n" + body


def hdr(sender: str, subject: str, mid: str) -> str:
    return (f"From: {sender}\nTo: info@rn.example\nSubject: {subject}\n"
            f"Date: Mon, 3 Mar 2025 09:00:00 +0100\nMessage-ID: <{mid}@citizen.example>")


def sjis_to_iso2022jp(text: str) -> bytes:
    """What a CP50220 encoder writes: CP932 double bytes as JIS X 0208 codes after ESC $ B."""
    out, mode = bytearray(), "ascii"
    for ch in text:
        data = ch.encode("cp932")
        if len(data) == 1:
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out += data
            continue
        s1, s2 = data
        if mode != "jis":
            out += b"\x1b$B"
            mode = "jis"
        s1 -= 0xB0 if s1 >= 0xE0 else 0x70
        j1 = s1 * 2
        if s2 >= 0x9F:
            j2 = s2 - 0x7E
        else:
            j1 -= 1
            j2 = s2 - (0x20 if s2 >= 0x80 else 0x1F)
        out += bytes([j1, j2])
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out)


def cpython() -> None:
    samples = {  # file: sender, subject, body snippet
        "msg_01": ("bbb@ddd.example", "This is a test message", "Do you like this message?"),
        "msg_20": ("bbb@ddd.example", "This is a test message", "Do you like this message?"),
        "msg_27": ("aperson@dom.example", "bug demonstration " + "1234567891123456789212345678"
                   "9312345678941234567895123456789612345678971234567898112345678911234567892"
                   "123456789112345678911234567892123456789 more text", "test"),
        "msg_32": ("aperson@example.org", "Re: Limiting Perl CPU Utilization...",
                   "Some message."),
        "msg_35": ("aperson@dom.example", "here's something interesting",
                   "there's no separating newline here"),
        "msg_45": ("foo@bar.example", "test", "This is the signed contents."),
        "msg_26": ("father.time@xcar.wooster.example", "IMAP file test",
                   "Simple email with attachment."),
        "msg_04": ("barry@python.example", "a simple multipart", "a simple kind of mirror"),
        "msg_36": ("internet-drafts@ietf.example", "I-D ACTION:draft-ietf-mboned-mix-00.txt",
                   ""),
        "msg_46": ("sender@example.org", "GroupwiseForwardingTest", ""),
        "msg_03": ("bbb@ddd.example", "This is a test message", "Do you like this message?"),
        "msg_29": ("bbb@ddd.example", "This is a test message", "Do you like this message?"),
        "msg_14": ("bbb@ddd.example", "This is a test message", "drainbread ISP"),
    }
    domain = re.compile(rb"\b((?:[A-Za-z0-9-]+\.)*?)([A-Za-z0-9-]+)\."
                        rb"(com|org|ORG|ain|baz|foo|local|de|dk)\b")

    def reserved(m: re.Match[bytes]) -> bytes:
        if m.group(2).lower() == b"example":
            return m.group(0)
        return m.group(1) + m.group(2) + b".example"

    for name, (sender, subject, body) in samples.items():
        source = CPYTHON / f"{name}.txt"
        if not source.exists():
            continue
        raw = domain.sub(reserved, source.read_bytes())
        add(f"cpython_{name}", raw, sender, subject, body, "cpython test_email")


def charsets() -> None:
    gbk = "您好，我是王喆，我的朋友李堃也需要帮助，身份证被锁了。"
    add("gb2312_label_gbk_body", mail(hdr("wang@citizen.example", "身份证问题", "g1"),
        b64(gbk, "gbk").encode() + b"\n", "text/plain; charset=gb2312", "base64"),
        "wang@citizen.example", "身份证问题", "我是王喆，我的朋友李堃", "mislabelled gb2312")
    add("gb2312_label_gbk_subject_word",
        mail(hdr("wang@citizen.example", word("王喆的身份证", "gb2312", "gbk"), "g2"),
             b64("请帮忙。", "gbk").encode() + b"\n", "text/plain; charset=gb2312", "base64"),
        "wang@citizen.example", "王喆的身份证", "请帮忙", "mislabelled gb2312")
    add("gb2312_label_gbk_8bit_qp", mail(hdr("li@citizen.example", "Demande", "g3"),
        "李堃：我的证件".encode("gbk") + b"\n", "text/plain; charset=\"GB2312\""),
        "li@citizen.example", "Demande", "李堃：我的证件", "mislabelled gb2312")
    nec = "株式会社テスト ㈱ 第①号 ②番 髙橋"
    add("iso2022jp_nec_body", mail(hdr("tanaka@citizen.example", "Question", "j1"),
        sjis_to_iso2022jp(nec) + b"\n", "text/plain; charset=iso-2022-jp", "7bit"),
        "tanaka@citizen.example", "Question", "㈱ 第①号 ②番", "iso-2022-jp extensions")
    subject_jp = "=?ISO-2022-JP?B?" + base64.b64encode(sjis_to_iso2022jp("①の件")).decode() + "?="
    add("iso2022jp_nec_subject", mail(hdr("tanaka@citizen.example", subject_jp, "j2"),
        sjis_to_iso2022jp("よろしくお願いします") + b"\n", "text/plain; charset=ISO-2022-JP",
        "7bit"), "tanaka@citizen.example", "①の件", "よろしくお願いします",
        "iso-2022-jp extensions")
    add("iso2022jp_undeclared", mail(hdr("sato@citizen.example", "Kakunin", "j3"),
        sjis_to_iso2022jp("住民票の確認をお願いします。") + b"\n", "text/plain", "7bit"),
        "sato@citizen.example", "Kakunin", "住民票の確認", "iso-2022-jp undeclared")
    add("iso2022jp_nec_8bit_missing_label", mail(hdr("sato@citizen.example", "Re: ②", "j4"),
        sjis_to_iso2022jp("②の書類を送ります") + b"\n", "text/plain; format=flowed", "7bit"),
        "sato@citizen.example", "Re: ②", "②の書類を送ります", "iso-2022-jp undeclared")
    add("shift_jis_nec_body", mail(hdr("kato@citizen.example", "Shinsei", "s1"),
        "髙橋です。①と②を確認".encode("cp932") + b"\n", "text/plain; charset=Shift_JIS"),
        "kato@citizen.example", "Shinsei", "髙橋です。①と②", "whatwg alias")
    add("ks_c_5601_cp949_body", mail(hdr("kim@citizen.example", "Munui", "k1"),
        "안녕하세요 똠방각하 문의".encode("cp949") + b"\n",
        "text/plain; charset=ks_c_5601-1987"),
        "kim@citizen.example", "Munui", "똠방각하", "whatwg alias")
    add("euc_kr_cp949_body", mail(hdr("park@citizen.example", "Question", "k2"),
        "똠 문의드립니다".encode("cp949") + b"\n", "text/plain; charset=euc-kr"),
        "park@citizen.example", "Question", "똠 문의드립니다", "whatwg alias")
    add("tis620_cp874_body", mail(hdr("somchai@citizen.example", "Khamtham", "t1"),
        "สวัสดีครับ ราคา 5€ …".encode("cp874") + b"\n", "text/plain; charset=TIS-620"),
        "somchai@citizen.example", "Khamtham", "สวัสดีครับ ราคา 5€ …", "whatwg alias")
    add("us_ascii_cp1252_body", mail(hdr("luc@citizen.example", "Accès", "a1"),
        "C’est l’été – merci".encode("cp1252") + b"\n", "text/plain; charset=us-ascii"),
        "luc@citizen.example", "Accès", "C’est l’été – merci", "whatwg alias")
    add("iso8859_9_cp1254_body", mail(hdr("ayse@citizen.example", "Soru", "a2"),
        "Fiyat 10€ – teşekkürler".encode("cp1254") + b"\n",
        "text/plain; charset=iso-8859-9"),
        "ayse@citizen.example", "Soru", "Fiyat 10€ – teşekkürler", "whatwg alias")
    add("latin1_quoted_label_cp1252", mail(hdr("an@citizen.example", "Vraag", "a3"),
        "Dag, “sleutel” €5".encode("cp1252") + b"\n", "text/plain; charset=\"latin1\""),
        "an@citizen.example", "Vraag", "“sleutel” €5", "whatwg alias")
    add("big5_body", mail(hdr("chen@citizen.example", "Wenti", "b1"),
        "您好，請協助".encode("big5") + b"\n", "text/plain; charset=big5"),
        "chen@citizen.example", "Wenti", "您好，請協助", "whatwg alias")
    broken = "Bonjour, ma clé est bloquée.".encode() + b" \xff " + b"Merci beaucoup."
    add("utf8_one_bad_byte", mail(hdr("eva@citizen.example", "Clé", "u1"), broken + b"\n"),
        "eva@citizen.example", "Clé", "ma clé est bloquée.", "declared charset fails")
    add("utf8_label_latin1_body", mail(hdr("eva@citizen.example", "Accès", "u2"),
        "Ma clé d'accès est bloquée".encode("latin-1") + b"\n"),
        "eva@citizen.example", "Accès", "Ma clé d'accès est bloquée", "declared charset fails")
    add("shift_jis_truncated", mail(hdr("kato@citizen.example", "Kakunin", "s2"),
        "確認します".encode("cp932") + b"\x82\n", "text/plain; charset=shift_jis"),
        "kato@citizen.example", "Kakunin", "確認します", "declared charset fails")
    add("unknown_label_utf8", mail(hdr("jan@citizen.example", "Sleutel", "u3"),
        "Mijn sleutel is geblokkeerd – dringend".encode() + b"\n",
        "text/plain; charset=x-user-defined-42"),
        "jan@citizen.example", "Sleutel", "geblokkeerd – dringend", "unknown charset")


def raw_headers() -> None:
    add("raw_gbk_subject_body_gbk", mail(
        "From: wang@citizen.example\nTo: info@rn.example\nSubject: 身份证被锁了\n"
        "Message-ID: <h1@citizen.example>",
        "请帮忙".encode("gbk") + b"\n", "text/plain; charset=gbk").replace(
            "身份证被锁了".encode(), "身份证被锁了".encode("gbk")),
        "wang@citizen.example", "身份证被锁了", "请帮忙", "raw 8-bit header")
    add("raw_gbk_subject_body_gb2312", mail(
        "From: wang@citizen.example\nTo: info@rn.example\nSubject: 王喆的申请\n"
        "Message-ID: <h2@citizen.example>",
        "谢谢".encode("gbk") + b"\n", "text/plain; charset=gb2312").replace(
            "王喆的申请".encode(), "王喆的申请".encode("gbk")),
        "wang@citizen.example", "王喆的申请", "谢谢", "raw 8-bit header")
    add("raw_sjis_subject_body_sjis", mail(
        "From: kato@citizen.example\nTo: info@rn.example\nSubject: 住民票について\n"
        "Message-ID: <h3@citizen.example>",
        "お願いします".encode("cp932") + b"\n", "text/plain; charset=shift_jis").replace(
            "住民票について".encode(), "住民票について".encode("cp932")),
        "kato@citizen.example", "住民票について", "お願いします", "raw 8-bit header")
    add("raw_cp1252_subject_body_cp1252", mail(
        "From: luc@citizen.example\nTo: info@rn.example\nSubject: Clé d’accès – été\n"
        "Message-ID: <h4@citizen.example>",
        "Merci d’avance".encode("cp1252") + b"\n", "text/plain; charset=windows-1252").replace(
            "Clé d’accès – été".encode(), "Clé d’accès – été".encode("cp1252")),
        "luc@citizen.example", "Clé d’accès – été", "Merci d’avance", "raw 8-bit header")
    add("raw_gbk_subject_no_body_charset", mail(
        "From: wang@citizen.example\nTo: info@rn.example\nSubject: 关于居民身份证的申请问题\n"
        "Message-ID: <h5@citizen.example>", b"see subject\n", "text/plain").replace(
            "关于居民身份证的申请问题".encode(), "关于居民身份证的申请问题".encode("gbk")),
        "wang@citizen.example", "关于居民身份证的申请问题", "see subject", "raw 8-bit header")
    add("raw_cp1252_from_name", mail(
        "From: Hélène Gérard <helene@citizen.example>\nTo: info@rn.example\n"
        "Subject: Attestation\nMessage-ID: <h6@citizen.example>",
        b"Bonjour" + b"\n", "text/plain; charset=iso-8859-1").replace(
            "Hélène Gérard".encode(), "Hélène Gérard".encode("cp1252")),
        "helene@citizen.example", "Attestation", "Bonjour", "raw 8-bit header")
    add("raw_utf8_subject", mail(hdr("jan@citizen.example", "Sleutel geblokkeerd – dringend",
                                     "h7"), b"Dag\n", "text/plain; charset=iso-8859-1"),
        "jan@citizen.example", "Sleutel geblokkeerd – dringend", "Dag", "raw 8-bit header")


def broken_headers() -> None:
    add("banner_before_headers", b"---- Original email message ----\n" + mail(
        hdr("marc@citizen.example", "Certificat", "x1"), b"Bonjour, un certificat svp.\n"),
        "marc@citizen.example", "Certificat", "un certificat svp", "broken header block")
    add("banner_crlf_before_headers", (b"-----Original Message-----\r\n" + mail(
        hdr("marc@citizen.example", "Attest", "x2"), b"Goeiedag, een attest aub.\n")
        .replace(b"\n", b"\r\n")), "marc@citizen.example", "Attest", "een attest aub",
        "broken header block")
    add("column0_subject_continuation", (
        b"From: julie@citizen.example\nTo: info@rn.example\nSubject: Demande de certificat\n"
        b"de residence urgente\nDate: Mon, 3 Mar 2025 09:00:00 +0100\n"
        b"Message-ID: <x3@citizen.example>\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Bonjour, voici ma demande.\n"), "julie@citizen.example",
        "Demande de certificat de residence urgente", "voici ma demande",
        "broken header block")
    add("column0_to_continuation_before_from", (
        b"To: info@rn.example,\nhelp@rn.example\nFrom: Tom <tom@citizen.example>\n"
        b"Subject: Toegang\nMessage-ID: <x4@citizen.example>\n\nIk kan niet inloggen.\n"),
        "tom@citizen.example", "Toegang", "Ik kan niet inloggen", "broken header block")
    add("mbox_line_and_banner", (
        b"From tom@citizen.example Mon Mar  3 09:00:00 2025\n"
        b"==== forwarded by gateway ====\n"
        b"From: tom@citizen.example\nSubject: Vraag\nMessage-ID: <x5@citizen.example>\n\n"
        b"Een vraag.\n"), "tom@citizen.example", "Vraag", "Een vraag", "broken header block")
    add("no_separator_line", (
        b"From: eva@citizen.example\nSubject: Kurz\nMessage-ID: <x6@citizen.example>\n"
        b"Ich brauche eine Bescheinigung.\n"), "eva@citizen.example", "Kurz",
        "Ich brauche eine Bescheinigung", "broken header block")
    add("leading_blank_line", b"\n" + mail(hdr("ria@citizen.example", "Attest", "x7"),
        b"Graag een attest.\n"), "ria@citizen.example", "Attest", "Graag een attest",
        "broken header block")
    add("not_a_message_at_all", b"Hello, this is just text\nwith no headers at all.\n",
        "", "", "", "broken header block", outcome="quarantined")
    add("banner_without_sender", (
        b"---- Original email message ----\nSubject only here\n\nbody\n"), "", "", "",
        "broken header block", outcome="quarantined")


def inline_parts() -> None:
    def mixed(parts: list[tuple[str, str, bytes]], mid: str, subject: str) -> bytes:
        body = b"This is a multi-part message in MIME format.\n"
        for headers, _, content in parts:
            body += b"--XYZ\n" + headers.encode() + b"\n\n" + content + b"\n"
        body += b"--XYZ--\n"
        return mail(hdr("paul@citizen.example", subject, mid), body,
                    'multipart/mixed; boundary="XYZ"', "7bit")

    plain = "Content-Type: text/plain; charset=utf-8"
    html = "Content-Type: text/html; charset=utf-8"
    png = ("Content-Type: image/png\nContent-Disposition: inline\nContent-ID: <img1@x>\n"
           "Content-Transfer-Encoding: base64")
    image = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    add("mixed_text_signature_text", mixed([
        (plain, "", b"First paragraph of the request."),
        (plain, "", b"-- \nPaul Martin, Commune"),
        (plain, "", b"PS: the second paragraph with the number 4711."),
    ], "m1", "Two texts"), "paul@citizen.example", "Two texts", "number 4711", "inline parts")
    add("mixed_html_image_html", mixed([
        (html, "", b"<html><body><p>Voici la photo :</p></body></html>"),
        (png, "", image),
        (html, "", b"<html><body><p>et la suite 8812.</p></body></html>"),
    ], "m2", "Photo"), "paul@citizen.example", "Photo", "et la suite 8812", "inline parts")
    add("mixed_text_attachment_text", mixed([
        (plain, "", b"Hier is mijn vraag."),
        (plain + '\nContent-Disposition: attachment; filename="log.txt"', "",
         b"ATTACHED-LOG-LINE"),
        (plain, "", b"En nog iets: 3321."),
    ], "m3", "Bijlage"), "paul@citizen.example", "Bijlage", "En nog iets: 3321", "inline parts")
    add("mixed_alternative_then_footer", mixed([
        ("Content-Type: multipart/alternative; boundary=ALT", "",
         b"--ALT\nContent-Type: text/plain\n\nMain text here.\n--ALT\n"
         b"Content-Type: text/html\n\n<p>Main text here.</p>\n--ALT--"),
        (plain, "", b"Footer: sent from the municipal network 5566."),
    ], "m4", "Footer"), "paul@citizen.example", "Footer", "municipal network 5566",
        "inline parts")
    add("mixed_first_text_only", mixed([
        (plain, "", b"Only one text part 9090."),
        ("Content-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: base64",
         "", base64.b64encode(b"%PDF-1.4 x")),
    ], "m5", "One"), "paul@citizen.example", "One", "Only one text part 9090", "inline parts")


def senders() -> None:
    cases = {
        "sender_encoded_name_with_address": (
            "=?utf-8?q?marie.lambert=40rn.example?= <mallory@evil.example>",
            "mallory@evil.example"),
        "sender_quoted_name_with_address": (
            '"marie.lambert@rn.example" <mallory@evil.example>', "mallory@evil.example"),
        "sender_two_addresses": ("a@citizen.example, b@citizen.example", ""),
        "sender_group_undisclosed": ("undisclosed:;", ""),
        "sender_empty": ("", ""),
        "sender_comment_with_address": ("mallory@evil.example (marie.lambert@rn.example)",
                                        "mallory@evil.example"),
        "sender_unquoted_address_as_name": ("marie.lambert@rn.example <mallory@evil.example>",
                                            ""),
        "sender_encoded_name_plain": ("=?utf-8?q?In=C3=A8s_Van_Damme?= <ines@citizen.example>",
                                      "ines@citizen.example"),
        "sender_outlook_unquoted_comma": ("Dupont, Jean <jean@citizen.example>",
                                          "jean@citizen.example"),
    }
    for name, (value, expected) in cases.items():
        add(name, mail(hdr(value, "Sender test", name), b"Texte du message.\n"),
            expected, "Sender test", "Texte du message", "sender")


def ordinary() -> None:
    texts = [
        ("fr", "Jean Dupont <jean.dupont@citizen.example>", "Clé d'accès bloquée",
         "Bonjour, ma clé d'accès est bloquée depuis hier."),
        ("nl", "Els Jacobs <els@gemeente.example>", "Toegangssleutel geblokkeerd",
         "Goeiedag, mijn toegangssleutel werkt niet meer."),
        ("de", "Karl Schmitz <karl@gemeinde.example>", "Zugangsschlüssel gesperrt",
         "Guten Tag, mein Zugangsschlüssel ist gesperrt."),
        ("en", "John Smith <john@mail.test>", "Access key blocked",
         "Hello, my access key has been blocked since yesterday."),
    ]
    for lang, sender, subject, body in texts:
        address = sender.split("<")[1].rstrip(">")
        encoded = word(subject, "utf-8")
        add(f"ordinary_{lang}_qp", mail(hdr(sender, encoded, f"o{lang}1"),
            body.encode().replace("é".encode(), b"=C3=A9").replace("ü".encode(), b"=C3=BC")
            + b"\n", "text/plain; charset=utf-8", "quoted-printable"),
            address, subject, body.split(",")[1].strip()[:20], "ordinary")
        add(f"ordinary_{lang}_latin1", mail(hdr(sender, word(subject, "iso-8859-1"),
                                                f"o{lang}2"),
            body.encode("latin-1") + b"\n", "text/plain; charset=iso-8859-1"),
            address, subject, body[:15], "ordinary")
        add(f"ordinary_{lang}_html_only", mail(hdr(sender, subject.encode().decode(),
                                                   f"o{lang}3").replace(subject, word(
                                                       subject, "utf-8")),
            f"<html><body><p>{body}</p></body></html>".encode() + b"\n",
            "text/html; charset=utf-8"), address, subject, body[-20:], "ordinary")


def main() -> None:
    for old in HERE.glob("*.eml"):
        old.unlink()
    cpython()
    charsets()
    raw_headers()
    broken_headers()
    inline_parts()
    senders()
    ordinary()
    (HERE / "manifest.json").write_text(json.dumps(ENTRIES, ensure_ascii=False, indent=1)
                                        + "\n", encoding="utf-8")
    print(len(ENTRIES), "messages")


if __name__ == "__main__":
    main()
