"""Writes the delivery-report corpus (reports/) and the ordinary mails (ordinary/) of
tests/test_bounce_corpus.py, as the MTAs named in each file name write them.

Run from the repository root: ``python tests/data/bounces/generate.py``. Reserved domains
only; our mail always quoted with Message-ID ``<out-placeholder@rn.example>`` and envelope
sender ``info@rn.example`` (tests substitute the real, signed ones).
"""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

HERE = Path(__file__).parent
RCPTS = ["bevolking@gemeente-b.example", "population@commune-a.example",
         "einwohner@gemeinde-c.example", "info@police-zone.example"]
_n = itertools.count(1)
_rcpt = itertools.cycle(RCPTS)


def original(rcpt: str, body: bool = True) -> str:
    head = (f"Return-Path: <info@rn.example>\n"
            f"Received: from app.rn.example (app.rn.example [198.51.100.5])\n"
            f"\tby smtp-out.rn.example (Postfix) with ESMTPS id 3F1A2B0C45\n"
            f"\tfor <{rcpt}>; Mon,  3 Mar 2025 10:14:58 +0100 (CET)\n"
            f"From: Registre national <info@rn.example>\n"
            f"To: {rcpt}\n"
            f"Subject: [RN #1] =?utf-8?Q?Cl=C3=A9_d=27acc=C3=A8s_bloqu=C3=A9e?=\n"
            f"Date: Mon, 03 Mar 2025 10:14:57 +0100\n"
            f"Message-ID: <out-placeholder@rn.example>\n"
            f"Auto-Submitted: auto-generated\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n"
            f"Content-Transfer-Encoding: 8bit\n")
    if body:
        head += "\nBonjour,\n\nVotre demande a été enregistrée sous la référence [RN #1].\n"
    return head


def top(sender: str, subject: str, mid: str, ctype: str, extra: str = "",
        null: bool = True, host: str = "mx.remote.example") -> str:
    rp = "Return-Path: <>\n" if null else ""
    return (f"{rp}Delivered-To: info@rn.example\n"
            f"Received: from {host} ({host} [192.0.2.25])\n"
            f"\tby mx1.rn.example (Postfix) with ESMTPS id 9A8B{next(_n):04X}\n"
            f"\tfor <info@rn.example>; Mon, 03 Mar 2025 10:15:01 +0100\n"
            f"From: {sender}\nTo: info@rn.example\nSubject: {subject}\n"
            f"Date: Mon, 03 Mar 2025 10:15:01 +0100\nMessage-ID: <{mid}>\n{extra}"
            f"MIME-Version: 1.0\nContent-Type: {ctype}\n")


def dsn(sender: str, subject: str, mid: str, human: str, rcpt: str, status: str,
        action: str, diag: str, mta: str, quoted: str = "message/rfc822",
        extra: str = "", human_type: str = "text/plain; charset=us-ascii",
        human_cte: str = "", null: bool = True) -> str:
    b = f"{mid.split('@')[0]}.report/boundary"
    per_msg = f"Reporting-MTA: dns; {mta}\nArrival-Date: Mon, 3 Mar 2025 10:14:58 +0100\n"
    per_rcpt = (f"Final-Recipient: rfc822; {rcpt}\nAction: {action}\nStatus: {status}\n"
                f"Remote-MTA: dns; mx.{rcpt.split('@')[1]}\nDiagnostic-Code: smtp; {diag}\n")
    orig = original(rcpt, body=quoted == "message/rfc822")
    cte = f"Content-Transfer-Encoding: {human_cte}\n" if human_cte else ""
    return (top(sender, subject, mid,
                f'multipart/report; report-type=delivery-status;\n\tboundary="{b}"',
                extra, null, mta)
            + f"\nThis is a MIME-encapsulated message.\n\n--{b}\n"
            f"Content-Description: Notification\nContent-Type: {human_type}\n{cte}\n{human}\n"
            f"--{b}\nContent-Description: Delivery report\n"
            f"Content-Type: message/delivery-status\n\n{per_msg}\n{per_rcpt}\n"
            f"--{b}\nContent-Description: Undelivered Message\nContent-Type: {quoted}\n"
            f"Content-Transfer-Encoding: 8bit\n\n{orig}\n--{b}--\n")


def text(sender: str, subject: str, mid: str, body: str, extra: str = "",
         null: bool = True, charset: str = "utf-8", host: str = "mx.remote.example") -> str:
    return top(sender, subject, mid, f"text/plain; charset={charset}",
               extra + "Content-Transfer-Encoding: 8bit\n", null, host) + "\n" + body


def write(folder: str, name: str, content: str, crlf: bool = False) -> None:
    path = HERE / folder / f"{name}.eml"
    path.parent.mkdir(exist_ok=True)
    data = content.replace("\n", "\r\n") if crlf else content
    path.write_bytes(data.encode("utf-8"))


def reports() -> None:
    r = lambda: next(_rcpt)  # noqa: E731
    # ---------------------------------------------------------------- Postfix
    postfix_human = ("This is the mail system at host smtp-out.rn.example.\n\n"
                     "I'm sorry to have to inform you that your message could not\n"
                     "be delivered to one or more recipients. It's attached below.\n\n"
                     "For further assistance, please send mail to postmaster.\n\n"
                     "                   The mail system\n\n<{rcpt}>: host mx.remote.example"
                     "[192.0.2.25] said: {diag}\n")
    for i, (status, diag) in enumerate([
            ("5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"),
            ("5.2.2", "552 5.2.2 <{rcpt}>: Mailbox full"),
            ("5.7.1", "554 5.7.1 <{rcpt}>: Relay access denied"),
            ("5.4.4", "Host or domain name not found. Name service error")]):
        rc = r()
        d = diag.format(rcpt=rc)
        write("reports", f"postfix_dsn_{status.replace('.', '_')}",
              dsn("MAILER-DAEMON@smtp-out.rn.example (Mail Delivery System)",
                  "Undelivered Mail Returned to Sender", f"pf{i}.7D1E@smtp-out.rn.example",
                  postfix_human.format(rcpt=rc, diag=d), rc, status, "failed", d,
                  "smtp-out.rn.example",
                  quoted="text/rfc822-headers" if i % 2 else "message/rfc822",
                  extra="Auto-Submitted: auto-replied\n"), crlf=bool(i % 2))
    rc = r()
    write("reports", "postfix_dsn_delayed_4_4_1",
          dsn("MAILER-DAEMON@smtp-out.rn.example (Mail Delivery System)",
              "Delayed Mail (still being retried)", "pfd.8E2F@smtp-out.rn.example",
              "#####\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
              f"#####\n\n<{rc}>: connect to mx.remote.example[192.0.2.25]:25: timed out\n",
              rc, "4.4.1", "delayed", "connect to mx.remote.example: Connection timed out",
              "smtp-out.rn.example", quoted="text/rfc822-headers"))
    for i in range(2):
        rc = r()
        write("reports", f"postfix_flattened_text_{i}",
              text("MAILER-DAEMON@gw.rn.example (Mail Delivery System)",
                   "Undelivered Mail Returned to Sender", f"pft{i}@gw.rn.example",
                   postfix_human.format(rcpt=rc, diag=f"550 5.1.1 <{rc}>: User unknown")
                   + "\n--- Original message follows ---\n\n" + original(rc)))
    # ---------------------------------------------------------------- Exim
    exim = ("This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  {rcpt}\n    host mx.remote.example [192.0.2.25]\n"
            "    SMTP error from remote mail server after RCPT TO:<{rcpt}>:\n"
            "    {diag}\n\n------ This is a copy of the message, including all the headers."
            " ------\n\n")
    for i, diag in enumerate(["550 5.1.1 User unknown", "552 5.2.2 Quota exceeded",
                              "550 Administrative prohibition"]):
        rc = r()
        write("reports", f"exim_failed_{i}",
              text("Mail Delivery System <Mailer-Daemon@relay.remote.example>",
                   "Mail delivery failed: returning message to sender",
                   f"E1tp0X{i}-0001Ab-Cd@relay.remote.example",
                   exim.format(rcpt=rc, diag=diag) + original(rc),
                   extra=f"X-Failed-Recipients: {rc}\nAuto-Submitted: auto-replied\n"),
              crlf=i == 1)
    rc = r()
    write("reports", "exim_failed_no_x_failed_header",
          text("Mail Delivery System <Mailer-Daemon@relay.remote.example>",
               "Mail delivery failed: returning message to sender",
               "E1tp0Z9-0001Ab-Cd@relay.remote.example",
               exim.format(rcpt=rc, diag="550 5.1.1 No such user") + original(rc)))
    rc = r()
    write("reports", "exim_delay_warning",
          text("Mail Delivery System <Mailer-Daemon@relay.remote.example>",
               "Warning: message 1tp0Xy-0001Ab-Cd delayed 24 hours",
               "E1tq1Aa-0002Bc-De@relay.remote.example",
               "This message was created automatically by mail delivery software.\n"
               "A message that you sent has not yet been delivered to one or more of its\n"
               f"recipients after more than 24 hours on the queue on relay.remote.example.\n\n"
               f"The message identifier is:     1tp0Xy-0001Ab-Cd\n\n"
               f"The address to which the message has not yet been delivered is:\n\n  {rc}\n"
               "    Delay reason: SMTP error from remote mail server after RCPT TO:\n"
               "    451 4.7.1 Greylisted, please try again later\n\n"
               "No action is required on your part.\n",
               extra=f"X-Failed-Recipients: {rc}\nAuto-Submitted: auto-replied\n"))
    # ---------------------------------------------------------------- Sendmail
    sm_human = ("The original message was received at Mon, 3 Mar 2025 10:14:58 +0100\n"
                "from app.rn.example [198.51.100.5]\n\n"
                "   ----- The following addresses had permanent fatal errors -----\n<{rcpt}>\n"
                "    (reason: {diag})\n\n   ----- Transcript of session follows -----\n"
                "... while talking to mx.remote.example.:\n>>> RCPT To:<{rcpt}>\n<<< {diag}\n"
                "550 5.1.1 <{rcpt}>... User unknown\n")
    for i, subject in enumerate(["Returned mail: see transcript for details",
                                 "Returned mail: User unknown",
                                 "Returned mail: Service unavailable"]):
        rc = r()
        diag = "550 5.1.1 User unknown" if i < 2 else "554 5.0.0 Service unavailable"
        write("reports", f"sendmail_dsn_{i}",
              dsn("Mail Delivery Subsystem <MAILER-DAEMON@mail.remote.example>", subject,
                  f"20250303091{i}.s23A@mail.remote.example",
                  sm_human.format(rcpt=rc, diag=diag), rc, diag.split()[1], "failed", diag,
                  "mail.remote.example", quoted="text/rfc822-headers" if i else
                  "message/rfc822", extra="Auto-Submitted: auto-generated (failure)\n"),
              crlf=i == 2)
    rc = r()
    write("reports", "sendmail_warning_delayed",
          dsn("Mail Delivery Subsystem <MAILER-DAEMON@mail.remote.example>",
              "Warning: could not send message for past 4 hours",
              "202503031415.s23B@mail.remote.example",
              "    **********************************************\n"
              "    **      THIS IS A WARNING MESSAGE ONLY      **\n"
              "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n"
              "    **********************************************\n\n"
              "The original message was received at Mon, 3 Mar 2025 10:14:58 +0100\n\n"
              "   ----- Transcript of session follows -----\n"
              f"<{rc}>... Deferred: Connection timed out with mx.remote.example.\n"
              "Warning: message still undelivered after 4 hours\n",
              rc, "4.4.7", "delayed", "Connection timed out", "mail.remote.example",
              quoted="text/rfc822-headers"))
    # ---------------------------------------------------------------- qmail
    for i, host in enumerate(["mail.qmail-host.example", "vpop.remote.example",
                              "smtp.isp.example"]):
        rc = r()
        body = (f"Hi. This is the qmail-send program at {host}.\n"
                "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
                "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
                f"<{rc}>:\n"
                + ["Sorry, no mailbox here by that name. (#5.1.1)\n",
                   "This address no longer accepts mail.\n",
                   "192.0.2.25 does not like recipient.\nRemote host said: 550 5.1.1 "
                   "unknown user\nGiving up on 192.0.2.25.\n"][i]
                + "\n--- Below this line is a copy of the message.\n\n" + original(rc))
        write("reports", f"qmail_failure_notice_{i}",
              text(f"MAILER-DAEMON@{host}", "failure notice", f"qm{i}.1741@{host}", body,
                   charset="us-ascii" if i else "utf-8"), crlf=i == 0)
    # ---------------------------------------------------------------- Gmail
    gm_human = ("** Address not found **\n\nYour message wasn't delivered to {rcpt} because "
                "the address couldn't be found, or is unable to receive mail.\n\n"
                "Learn more here: https://support.google.invalid/mail/answer/6596\n\n"
                "The response from the remote server was:\n{diag}\n")
    for i, diag in enumerate(["550 5.1.1 The email account that you tried to reach does not "
                              "exist.", "552 5.2.2 The recipient's inbox is out of storage "
                              "space."]):
        rc = r()
        write("reports", f"gmail_dsn_failure_{i}",
              dsn("Mail Delivery Subsystem <mailer-daemon@googlemail.example>",
                  "Delivery Status Notification (Failure)",
                  f"5e2a{i}.gm@mx.google.example", gm_human.format(rcpt=rc, diag=diag), rc,
                  diag.split()[1], "failed", diag, "mx.google.example",
                  extra="Auto-Submitted: auto-replied\n"))
    rc = r()
    write("reports", "gmail_dsn_delay",
          dsn("Mail Delivery Subsystem <mailer-daemon@googlemail.example>",
              "Delivery Status Notification (Delay)", "5e2ad.gm@mx.google.example",
              "** Message not delivered yet **\n\nThere was a temporary problem delivering "
              f"your message to {rc}. Gmail will retry for 46 more hours.\n", rc, "4.4.1",
              "delayed", "421 4.4.1 Try again later", "mx.google.example"))
    rc = r()
    write("reports", "gmail_dsn_failure_fr_body",
          dsn("Mail Delivery Subsystem <mailer-daemon@googlemail.example>",
              "Delivery Status Notification (Failure)", "5e2af.gm@mx.google.example",
              "** Adresse introuvable **\n\nVotre message n'a pas été distribué à "
              f"{rc}, car l'adresse est introuvable ou ne peut pas recevoir de messages.\n",
              rc, "5.1.1", "failed", "550 5.1.1 The email account does not exist",
              "mx.google.example", human_type="text/plain; charset=utf-8",
              human_cte="8bit"))
    # ---------------------------------------------------------------- Exchange / Outlook
    exch = {
        "en": ("Undeliverable: [RN #1] Clé d'accès bloquée", "Microsoft Outlook",
               "Your message to {rcpt} couldn't be delivered.\n{rcpt} wasn't found at "
               "{dom}.\n\nDiagnostic information for administrators:\nGenerating server: "
               "exch.{dom}\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound;"
               " Recipient not found by SMTP address lookup'\n"),
        "fr": ("Non remis : [RN #1] Clé d'accès bloquée", "Microsoft Outlook",
               "Votre message n'a pas pu être remis à {rcpt}.\n{rcpt} est introuvable sur "
               "{dom}.\n\nInformations de diagnostic pour les administrateurs :\nServeur "
               "générateur : exch.{dom}\nRemote Server returned '550 5.1.10 "
               "RESOLVER.ADR.RecipientNotFound; Recipient not found'\n"),
        "nl": ("Onbestelbaar: [RN #1] Clé d'accès bloquée", "Microsoft Outlook",
               "Uw bericht aan {rcpt} kan niet worden bezorgd.\n{rcpt} is niet gevonden op "
               "{dom}.\n\nDiagnostische gegevens voor beheerders:\nGenererende server: "
               "exch.{dom}\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'"
               "\n"),
        "de": ("Unzustellbar: [RN #1] Clé d'accès bloquée", "Microsoft Outlook",
               "Ihre Nachricht an {rcpt} konnte nicht zugestellt werden.\n{rcpt} wurde bei "
               "{dom} nicht gefunden.\n\nDiagnoseinformationen für Administratoren:\n"
               "Generierender Server: exch.{dom}\nRemote Server returned '550 5.1.10 "
               "RESOLVER.ADR.RecipientNotFound'\n"),
    }
    for lang, (subject, name, human) in exch.items():
        for variant in ("report", "html"):
            rc = r()
            dom = rc.split("@")[1]
            mid = f"ndr-{lang}-{variant}@exch.{dom}"
            enc = "=?utf-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
            if variant == "report":
                write("reports", f"exchange_ndr_{lang}",
                      dsn(f"{name} <postmaster@{dom}>", enc, mid,
                          human.format(rcpt=rc, dom=dom), rc, "5.1.10", "failed",
                          "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound", f"exch.{dom}",
                          human_type="text/plain; charset=utf-8", human_cte="8bit",
                          extra="Auto-Submitted: auto-replied\nX-MS-Exchange-Message-Is-Ndr:\n"
                          "Content-Language: " + lang + "\n"), crlf=lang in ("fr", "de"))
            else:  # as some gateways deliver it: the human part alone, no DSN
                write("reports", f"exchange_ndr_{lang}_text_only",
                      text(f"{name} <postmaster@{dom}>", enc, mid,
                           human.format(rcpt=rc, dom=dom)
                           + "\nOriginal message headers:\n\n" + original(rc, body=False),
                           extra="Auto-Submitted: auto-replied\n"))
    legacy = [("Non-Delivery: [RN #1] Votre demande", "en"),
              ("=?iso-8859-1?Q?=C9chec_de_la_remise=A0:_[RN_#1]?=", "fr"),
              ("Niet afgeleverd: [RN #1] Uw aanvraag", "nl"),
              ("Nicht zustellbar: [RN #1] Ihre Anfrage", "de")]
    for subject, lang in legacy:
        rc = r()
        dom = rc.split("@")[1]
        body = {"en": "Your message did not reach some or all of the intended recipients.",
                "fr": "Votre message n'est pas parvenu à certains ou à l'ensemble des "
                      "destinataires.",
                "nl": "Uw bericht heeft sommige of alle geadresseerden niet bereikt.",
                "de": "Ihre Nachricht hat einige oder alle Empfänger nicht erreicht."}[lang]
        write("reports", f"exchange_legacy_{lang}",
              dsn(f"System Administrator <postmaster@{dom}>", subject,
                  f"legacy-{lang}@exch.{dom}",
                  f"{body}\n\n      Subject: [RN #1]\n      Sent: 03/03/2025 10:14\n\n"
                  f"  {rc} on 03/03/2025 10:15\n            550 5.1.1 User unknown\n",
                  rc, "5.1.1", "failed", "smtp;550 5.1.1 User unknown", f"exch.{dom}",
                  human_type="text/plain; charset=utf-8", human_cte="8bit"))
    # ---------------------------------------------------------------- Lotus Domino
    for i, (reason, report) in enumerate([
            ("User {local} ({rcpt}) not listed in Domino Directory", True),
            ("Error transferring to mx.remote.example; SMTP Protocol Returned a Permanent "
             "Error 550 5.1.1 user unknown", True),
            ("Maximum hop count exceeded.  Message probably in a routing loop.", False)]):
        rc = r()
        local = rc.split("@")[0]
        reason_text = reason.format(local=local, rcpt=rc)
        subject = f"DELIVERY FAILURE: {reason_text}"[:120]
        human = (f"Your message\n\n  Subject: [RN #1] Votre demande\n\nwas not delivered to:\n\n"
                 f"  {rc}\n\nbecause:\n\n  {reason_text}\n")
        sender = ("Postmaster/Remote@remote.example" if i
                  else "Mail Router <postmaster@domino.example>")
        if report:
            write("reports", f"domino_delivery_failure_{i}",
                  dsn(sender, subject, f"OF{i}A2B.C3D4@domino.example", human, rc, "5.1.1",
                      "failed", "X-Notes; " + reason_text, "domino.example"))
        else:
            write("reports", f"domino_delivery_failure_{i}_text",
                  text(sender, subject, f"OF{i}A2B.C3D4@domino.example",
                       human + "\n" + original(rc)))
    # ---------------------------------------------------------------- Novell GroupWise
    gw = ("The message that you sent was not delivered to {rcpt}.\n\n"
          "   Subject: [RN #1] Votre demande\n   Creation Date: 03/03/2025 10:14\n"
          "   From: info@rn.example\n\n   Recipients:\n      {rcpt}\n\n"
          "   Status:\n      Undeliverable - {why}\n")
    for i, (subject, why) in enumerate([("Message status - undeliverable", "User unknown"),
                                        ("Undeliverable mail", "Mailbox full"),
                                        ("Message status - undeliverable", "550 5.1.1")]):
        rc = r()
        if i == 2:
            write("reports", "groupwise_gwia_report",
                  dsn("Mail Delivery System <postmaster@gw.remote.example>", subject,
                      "GW2.gwia@gw.remote.example", gw.format(rcpt=rc, why=why), rc, "5.1.1",
                      "failed", "550 5.1.1 User unknown", "gw.remote.example"))
        else:
            write("reports", f"groupwise_status_{i}",
                  text("Mail Delivery System <postmaster@gw.remote.example>", subject,
                       f"GW{i}.gwia@gw.remote.example", gw.format(rcpt=rc, why=why),
                       host="gw.remote.example"))
    # ---------------------------------------------------------------- MDaemon
    md = ("The attached message had PERMANENT fatal delivery errors!\n\n"
          "After one or more unsuccessful delivery attempts the attached message has\n"
          "been removed from the mail queue on this server.  The number and frequency\n"
          "of delivery attempts are determined by local configuration parameters.\n\n"
          "YOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\n"
          "--- Session Transcript ---\n Mon 2025-03-03 10:15:00: Parsing message\n"
          " Mon 2025-03-03 10:15:00: *  To:        {rcpt}\n"
          " Mon 2025-03-03 10:15:01: --> RCPT To:<{rcpt}>\n"
          " Mon 2025-03-03 10:15:01: <-- {diag}\n--- End Transcript ---\n")
    for i, diag in enumerate(["550 5.1.1 Unknown user", "552 Mailbox over quota",
                              "554 5.7.1 Rejected"]):
        rc = r()
        write("reports", f"mdaemon_permanent_{i}",
              text("MDaemon@mail.mdaemon.example", "Permanent Delivery Failure",
                   f"MDAEMON{i}2503031015@mail.mdaemon.example",
                   md.format(rcpt=rc, diag=diag) + "\n" + original(rc),
                   extra="X-MDaemon-Deliver-To: info@rn.example\n", null=i != 1,
                   host="mail.mdaemon.example"), crlf=i == 1)
    rc = r()
    write("reports", "mdaemon_warning_temporary",
          text("MDaemon@mail.mdaemon.example", "Warning: Temporary Delivery Failure Notice",
               "MDAEMONW2503031015@mail.mdaemon.example",
               f"The attached message has had temporary delivery errors to {rc}.\n"
               "MDaemon will keep trying to deliver it.\n\nYOU DO NOT NEED TO RESEND YOUR "
               "MESSAGE.\n", host="mail.mdaemon.example"))
    # ---------------------------------------------------------------- Trend Micro IMSS
    imss = ("The following message could not be delivered to its recipient:\n\n"
            "  Sender:     info@rn.example\n  Recipient:  {rcpt}\n"
            "  Subject:    [RN #1] Votre demande\n  Reason:     {why}\n\n"
            "This notification was generated by InterScan Messaging Security Suite.\n")
    for i, why in enumerate(["550 5.1.1 User unknown", "Connection refused by remote MTA",
                             "Message size exceeds limit (5.3.4)"]):
        rc = r()
        sender = ["IMSS <imss@gate.remote.example>", "postmaster@gate.remote.example",
                  "InterScan MSS <postmaster@gate.remote.example>"][i]
        write("reports", f"trendmicro_imss_{i}",
              text(sender, "Mail could not be delivered", f"imss{i}.2503@gate.remote.example",
                   imss.format(rcpt=rc, why=why), null=i != 2))
    # ---------------------------------------------------------------- others
    rc = r()
    write("reports", "yahoo_failure_notice",
          text("MAILER-DAEMON@yahoo.example", "Failure Notice", "yh1@mta.yahoo.example",
               "Sorry, we were unable to deliver your message to the following address.\n\n"
               f"<{rc}>:\n554: delivery error: dd This user doesn't have a yahoo.example "
               "account (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n"
               + original(rc)))
    rc = r()
    write("reports", "mirapoint_mail_system_error",
          text("Mail Administrator <Postmaster@mira.remote.example>",
               "Mail System Error - Returned Mail", "mira1@mira.remote.example",
               "This Message was undeliverable due to the following reason:\n\n"
               f"The user(s) account is temporarily over quota.\n\n<{rc}>\n\n"
               "Please reply to Postmaster@mira.remote.example\n"
               "if you feel this message to be in error.\n\n" + original(rc)))
    rc = r()
    write("reports", "courier_notice",
          dsn("Courier mail server at mail.courier.example <@>",
              "NOTICE: mail delivery status.", "courier1@mail.courier.example",
              "This is a delivery status notification from mail.courier.example,\n"
              "running the Courier mail server.\n\nThe original message was received on\n"
              "Mon, 03 Mar 2025 10:14:58 +0100\n\n"
              f"<{rc}>: 550 5.1.1 Mailbox unavailable\n",
              rc, "5.1.1", "failed", "550 5.1.1 Mailbox unavailable", "mail.courier.example"))
    rc = r()
    write("reports", "opensmtpd_error",
          text("Mailer Daemon <MAILER-DAEMON@smtpd.remote.example>",
               "Delivery status notification: error", "osmtpd1@smtpd.remote.example",
               "Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this email.\n\n"
               "An error has occurred while attempting to deliver a message for\n"
               "the following list of recipients:\n\n"
               f"{rc}: 550 5.1.1 Recipient address rejected: User unknown\n\n"
               "Below is a copy of the original message:\n\n" + original(rc)))
    rc = r()
    write("reports", "smtpsvc_iis_failure",
          dsn("postmaster@iis.remote.example", "Delivery Status Notification (Failure)",
              "iis1@iis.remote.example",
              "This is an automatically generated Delivery Status Notification.\n\n"
              f"Delivery to the following recipients failed.\n\n       {rc}\n", rc, "5.0.0",
              "failed", "smtp;550 5.0.0 Unknown user", "iis.remote.example"))
    # ---------------------------------------------------------------- localised, other MTAs
    local = [
        ("fr", "Message non remis", "Postfix (modèle fr)",
         "Votre message n'a pas pu être remis au destinataire suivant :\n\n  {rcpt}\n"
         "  Raison : 550 5.1.1 utilisateur inconnu\n"),
        ("fr", "=?utf-8?Q?=C3=89chec_de_la_remise_du_message?=", "Zimbra",
         "Le message suivant n'a pas pu être distribué :\n\n  {rcpt} : boîte aux lettres "
         "inexistante (5.1.1)\n"),
        ("nl", "Onbestelbaar bericht", "Kerio",
         "Uw bericht kon niet worden afgeleverd bij:\n\n  {rcpt}\n  Reden: 550 5.1.1 "
         "onbekende gebruiker\n"),
        ("nl", "Niet afgeleverd: [RN #1] Uw aanvraag", "Zimbra",
         "Het bericht is niet afgeleverd bij {rcpt}: postvak bestaat niet (5.1.1).\n"),
        ("de", "Unzustellbare Nachricht", "Kerio",
         "Ihre Nachricht konnte folgenden Empfängern nicht zugestellt werden:\n\n  {rcpt}\n"
         "  Grund: 550 5.1.1 Benutzer unbekannt\n"),
        ("de", "Nicht zustellbar: [RN #1] Ihre Anfrage", "Tobit",
         "Die Nachricht an {rcpt} konnte nicht zugestellt werden.\n"
         "Fehler: 550 5.1.1 Postfach nicht vorhanden\n"),
    ]
    for i, (lang, subject, who, body) in enumerate(local):
        rc = r()
        dom = rc.split("@")[1]
        write("reports", f"localised_{lang}_{i}",
              text(f"MAILER-DAEMON@mx.{dom} ({who})", subject, f"loc{i}@mx.{dom}",
                   body.format(rcpt=rc) + "\n------ Message d'origine / Original ------\n\n"
                   + original(rc)), crlf=i % 2 == 1)
    # ---------------------------------------------------------------- more variants
    rc = r()
    dom = rc.split("@")[1]
    write("reports", "exchange_2010_no_return_path",
          dsn(f"Microsoft Exchange <postmaster@{dom}>", "Undeliverable: [RN #1] Votre demande",
              f"ex2010@exch.{dom}", "Delivery has failed to these recipients or groups:\n\n"
              f"{rc}\nThe e-mail address you entered couldn't be found.\n", rc, "5.1.1",
              "failed", "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", f"exch.{dom}",
              null=False))
    rc = r()
    write("reports", "postfix_dsn_fr_template",
          dsn("MAILER-DAEMON@mx.commune-a.example (Système de distribution du courrier)",
              "=?utf-8?Q?Message_non_remis_(retourn=C3=A9_=C3=A0_l=27exp=C3=A9diteur)?=",
              "pffr.1A2B@mx.commune-a.example",
              "Ceci est le système de messagerie du serveur mx.commune-a.example.\n\n"
              "Votre message n'a pas pu être remis à un ou plusieurs destinataires.\n\n"
              f"<{rc}> : utilisateur inconnu\n", rc, "5.1.1", "failed",
              "550 5.1.1 User unknown", "mx.commune-a.example",
              human_type="text/plain; charset=utf-8", human_cte="8bit"), crlf=True)
    rc = r()
    write("reports", "gmail_dsn_blocked_5_7_1",
          dsn("Mail Delivery Subsystem <mailer-daemon@googlemail.example>",
              "Delivery Status Notification (Failure)", "5e2ab.gm@mx.google.example",
              "** Message blocked **\n\nYour message to " + rc + " has been blocked.\n", rc,
              "5.7.1", "failed", "550 5.7.1 Message rejected by policy", "mx.google.example",
              quoted="text/rfc822-headers"))
    rc = r()
    write("reports", "exim_failed_de_body",
          text("Mail Delivery System <Mailer-Daemon@relay.gemeinde-c.example>",
               "Mail delivery failed: returning message to sender",
               "E1tp0Qq-0009Zz-Yy@relay.gemeinde-c.example",
               "Diese Nachricht wurde automatisch von der Mail-Software erzeugt.\n\n"
               "Eine von Ihnen gesendete Nachricht konnte nicht zugestellt werden.\n"
               f"Folgende Adresse(n) schlugen fehl:\n\n  {rc}\n    Benutzer unbekannt\n\n"
               + original(rc), extra=f"X-Failed-Recipients: {rc}\n"))


def ordinary() -> None:
    def person(name: str, subject: str, body: str, addr: str, extra: str = "",
               rp: str | None = None, ctype: str = "text/plain; charset=utf-8") -> str:
        return (f"Return-Path: <{rp if rp is not None else addr}>\n"
                "Delivered-To: info@rn.example\n"
                f"From: {addr}\nTo: info@rn.example\nSubject: {subject}\n"
                f"Date: Tue, 04 Mar 2025 09:0{next(_n) % 10}:00 +0100\n"
                f"Message-ID: <ord{next(_n)}@{addr.split('@')[1]}>\n{extra}"
                f"MIME-Version: 1.0\nContent-Type: {ctype}\nContent-Transfer-Encoding: 8bit\n\n"
                + body)
    citizen = [
        ("fr", "Mon mail n'a pas pu être délivré à ma commune",
         "Bonjour,\n\nMon mail n'a pas pu être délivré à ma commune : j'ai reçu un message "
         "« Non remis » avec le code 550 5.1.1. Pouvez-vous me donner la bonne adresse du "
         "service population ?\n\nMerci,\nMarie Dupont\n", "marie.dupont@citoyen.example"),
        ("fr", "Non remis : que faire ?",
         "Bonjour,\nJ'ai reçu un avis de non-remise en écrivant à ma commune. "
         "Le message disait : « Votre message n'a pas pu être remis ». Que faire ?\n",
         "jean.martin@citoyen.example"),
        ("nl", "Onbestelbaar bericht naar mijn gemeente",
         "Goedemiddag,\n\nMijn e-mail aan de gemeente is niet afgeleverd (onbestelbaar). "
         "Welk adres moet ik gebruiken voor mijn adreswijziging?\n\nMet vriendelijke groet,\n"
         "Jan Peeters\n", "jan.peeters@burger.example"),
        ("nl", "Niet afgeleverd - vraag over mijn rijksregisternummer",
         "Beste,\nMijn vorige mail kwam terug als niet afgeleverd. Ik vroeg mijn "
         "rijksregisternummer op.\nGroeten, An\n", "an.janssens@burger.example"),
        ("de", "Unzustellbar: meine Nachricht an die Gemeinde",
         "Guten Tag,\n\nmeine E-Mail an die Gemeinde war unzustellbar (550 5.1.1 Benutzer "
         "unbekannt). Können Sie mir die richtige Adresse geben?\n\nMit freundlichen Grüßen\n"
         "Klaus Schmitz\n", "klaus.schmitz@buerger.example"),
        ("en", "Undeliverable mail to my municipality",
         "Hello,\n\nMy mail could not be delivered to my municipality: I got 'Mail delivery "
         "failed: returning message to sender'. What address should I use?\n\nThanks,\nSam\n",
         "sam.taylor@resident.example"),
        ("en", "Returned mail",
         "Hi, my certificate request was returned mail - delivery failure to "
         "population@commune-a.example. Can you forward it?\n", "lee.adams@resident.example"),
        ("fr", "Délai de livraison de ma carte",
         "Bonjour, quand vais-je recevoir ma carte d'identité ? Merci.\n",
         "sophie.leroy@citoyen.example"),
    ]
    for i, (lang, subject, body, addr) in enumerate(citizen):
        write("ordinary", f"citizen_{lang}_{i}", person(addr.split("@")[0], subject, body, addr),
              crlf=i % 3 == 0)
    fwd_ndr = ("Bonjour,\n\nCi-dessous le message d'erreur reçu, pouvez-vous vérifier "
               "l'adresse ?\n\n-------- Message transféré --------\nDe : Microsoft Outlook "
               "<postmaster@commune-a.example>\nObjet : Non remis : Demande\n\nVotre message "
               "n'a pas pu être remis à population@commune-a.example.\nRemote Server returned "
               "'550 5.1.1 RESOLVER.ADR.RecipNotFound'\n")
    write("ordinary", "forwarded_ndr_fr",
          person("", "TR: Non remis : Demande", fwd_ndr, "employe@commune-d.example"))
    write("ordinary", "forwarded_ndr_en",
          person("", "Fwd: Undeliverable: certificate request",
                 "See below, the mail bounced:\n\n---------- Forwarded message ---------\n"
                 "From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\n"
                 "Subject: Delivery Status Notification (Failure)\n\n** Address not found **\n"
                 "Your message wasn't delivered to population@commune-a.example\n"
                 "550 5.1.1 The email account that you tried to reach does not exist.\n",
                 "helper@resident.example"))
    ooo = [
        ("fr", "Réponse automatique : [RN #1] Votre demande",
         "Je suis absent jusqu'au 10 mars. En cas d'urgence, contactez le service "
         "population.\n", "Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n", "<>"),
        ("nl", "Automatisch antwoord: [RN #1] Uw aanvraag",
         "Ik ben afwezig tot 10 maart. Uw bericht wordt niet doorgestuurd.\n",
         "Auto-Submitted: auto-replied\n", "<>"),
        ("de", "Abwesenheitsnotiz: [RN #1] Ihre Anfrage",
         "Ich bin bis zum 10. März nicht im Büro. Ihre Nachricht wird nicht weitergeleitet.\n",
         "Auto-Submitted: auto-replied\n", None),
        ("en", "Out of Office: [RN #1] Your request",
         "I am out of the office until March 10 with limited access to mail. Your message "
         "could not be delivered to me in person; it will be read on my return.\n",
         "X-Autoreply: yes\nPrecedence: auto_reply\n", "<>"),
        ("fr", "Absence du bureau",
         "Bonjour, je suis en congé. Votre message ne sera pas transféré.\n",
         "Auto-Submitted: auto-replied\n", None),
    ]
    for i, (lang, subject, body, extra, rp) in enumerate(ooo):
        addr = ["agent@commune-a.example", "medewerker@gemeente-b.example",
                "mitarbeiter@gemeinde-c.example", "officer@police-zone.example",
                "agent2@commune-a.example"][i]
        write("ordinary", f"out_of_office_{lang}_{i}",
              person("", subject, body, addr, extra,
                     rp="" if rp == "<>" else None).replace("Return-Path: <>",
                                                            "Return-Path: <>"))
    for i, (lang, subject, human) in enumerate([
            ("en", "Read: [RN #1] Your request", "Your message was read on 04/03/2025 09:12."),
            ("fr", "Lu : [RN #1] Votre demande", "Votre message a été lu le 04/03/2025 09:12."),
            ("nl", "Gelezen: [RN #1] Uw aanvraag",
             "Uw bericht is gelezen op 04/03/2025 09:12.")]):
        addr = ["reader@commune-a.example", "lecteur@commune-a.example",
                "lezer@gemeente-b.example"][i]
        b = f"mdn{i}boundary"
        body = (f"--{b}\nContent-Type: text/plain; charset=utf-8\n\n{human}\n\n--{b}\n"
                "Content-Type: message/disposition-notification\n\n"
                f"Reporting-UA: {addr.split('@')[1]}; Microsoft Outlook\n"
                f"Final-Recipient: rfc822;{addr}\n"
                "Original-Message-ID: <out-placeholder@rn.example>\n"
                "Disposition: manual-action/MDN-sent-manually; displayed\n\n"
                f"--{b}--\n")
        write("ordinary", f"read_receipt_{lang}",
              person("", subject, body, addr, rp="",
                     ctype=f'multipart/report; report-type=disposition-notification;\n'
                           f'\tboundary="{b}"'))
    write("ordinary", "read_receipt_plain_text",
          person("", "Read: [RN #1] Your request",
                 "Your message\n\n  To: officer@police-zone.example\n  Subject: [RN #1]\n\n"
                 "was read on Tuesday, March 4, 2025 9:12 AM.\n", "officer@police-zone.example"))
    write("ordinary", "municipality_question_nl",
          person("", "Vraag over adreswijziging",
                 "Goedemorgen,\n\nWij krijgen een foutmelding bij het registreren van een "
                 "adreswijziging in het Rijksregister. Kunnen jullie helpen?\n\nDienst "
                 "Bevolking\n", "bevolking@gemeente-b.example"))
    write("ordinary", "municipality_question_de",
          person("", "Zugang gesperrt",
                 "Guten Tag,\nunser Zugangsschlüssel ist gesperrt. Bitte um Rückruf.\n",
                 "einwohner@gemeinde-c.example"))
    write("ordinary", "police_question_en",
          person("", "Access key expired",
                 "Hello, our access key expired yesterday, the message said 'delivery of the "
                 "certificate failed'. Please advise.\n", "info@police-zone.example"))


if __name__ == "__main__":
    reports()
    ordinary()
