"""The French, Dutch and German admin say everything in the operator's language: the core's
refusals (an unknown group, a duration without a unit, a start in the past, a refused
sign-in, a repeated notice, a maintenance too long …), the kinds of announcement and the
maintenance phases (labels, not stored values), and the state of an address left out
after bounces. Over HTTP against a real server and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import html

import pyotp
from sqlalchemy import select

from rnmail.errors import NotFound, RnmailError, Word
from rnmail.models import OutboxMessage, Suppression
from rnmail.status.maintenance import parse_duration, written_duration
from tests.harness.admin import Admin, status_fields
from tests.harness.admin import admin as admin  # the fixture
from tests.harness.install import add_members
from tests.harness.mail import wait_for_mail

LANGUAGES = ("fr", "nl", "de")
REFUSALS = {  # what the operator typed → the line, in fr, nl and de
    "group": ("aucun groupe 'gemeenten' (connus : municipalities)",
              "geen groep 'gemeenten' (bekend: municipalities)",
              "keine Gruppe 'gemeenten' (bekannt: municipalities)"),
    "unit": ("la durée '3' n’a pas d’unité : écrivez par exemple 3h, 90m, 1h30 ou 2d",
             "de duur '3' heeft geen eenheid: schrijf bijvoorbeeld 3h, 90m, 1h30 of 2d",
             "die Dauer '3' hat keine Einheit: schreiben Sie z. B. 3h, 90m, 1h30 oder 2d"),
    "duration": ("durée '3 heures' : écrivez par exemple 3h, 90m, 1h30 ou 2d",
                 "duur '3 heures': schrijf bijvoorbeeld 3h, 90m, 1h30 of 2d",
                 "Dauer '3 heures': schreiben Sie z. B. 3h, 90m, 1h30 oder 2d"),
    "past": ("le début 01/01/2020 10:00 (heure de Bruxelles) est déjà passé",
             "het begin 01/01/2020 10:00 (Brusselse tijd) is al voorbij",
             "der Beginn 01.01.2020 10:00 (Brüsseler Zeit) ist bereits vorbei"),
    "time": ("heure 'demain' : écrivez AAAA-MM-JJ HH:MM (heure de Bruxelles)",
             "tijdstip 'demain': schrijf JJJJ-MM-DD UU:MM (Brusselse tijd)",
             "Zeit 'demain': schreiben Sie JJJJ-MM-TT HH:MM (Brüsseler Zeit)"),
    "long": ("une maintenance de 8d dépasse [status].max_maintenance_days (7 jours)",
             "een onderhoud van 8d is langer dan [status].max_maintenance_days (7 dagen)",
             "eine Wartung von 8d ist länger als [status].max_maintenance_days (7 Tage)"),
    "position": ("choisissez une position : opérationnel, perturbé ou hors service",
                 "kies een positie: operationeel, verstoord of buiten dienst",
                 "wählen Sie eine Stellung: betriebsbereit, gestört oder außer Betrieb"),
    "comment": ("le commentaire (fr) compte 501 caractères : 500 au plus",
                "de opmerking (fr) telt 501 tekens: hoogstens 500",
                "der Kommentar (fr) hat 501 Zeichen: höchstens 500"),
    "component": ("composant inconnu 'toaster' (connus : ",
                  "onbekend onderdeel 'toaster' (bekend: ",
                  "unbekannte Komponente 'toaster' (bekannt: "),
    "repeat": ("le même avis (perturbé, même commentaire) est parti vers municipalities le ",
               "hetzelfde bericht (verstoord, dezelfde opmerking) ging naar municipalities "
               "op ",
               "dieselbe Meldung (gestört, derselbe Kommentar) ging am "),
    "cancelled": ("la maintenance n°{id} est déjà annulée", "onderhoud #{id} is al "
                                                            "geannuleerd",
                  "die Wartung Nr. {id} ist bereits abgesagt"),
    "code": ("nom d’opérateur, mot de passe ou code erroné (la tentative est enregistrée)",
             "verkeerde operatornaam, wachtwoord of code (de poging wordt geregistreerd)",
             "falscher Operatorname, falsches Passwort oder falscher Code (der Versuch wird "
             "protokolliert)"),
}


def shown(page: str) -> str:
    return html.unescape(page)


def test_the_core_refusals_are_in_the_operators_language(admin: Admin) -> None:
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"))
    csrf = admin.signed_in()

    def maintenance(start: str, duration: str) -> str:
        return shown(admin.post("/admin/maintenance", [
            ("csrf", csrf), ("start", start), ("duration", duration),
            ("confirm", "1")]).text)

    degraded = [*status_fields(csrf, "degraded", ("municipalities",), {"fr": "Lenteurs"}),
                ("confirm", "1")]
    assert admin.post("/admin/status", degraded).status == 303
    wait_for_mail(admin.smtp, 1)
    assert admin.post("/admin/maintenance", [
        ("csrf", csrf), ("start", "2031-03-05T18:00"), ("duration", "2h"),
        ("confirm", "1")]).status == 303
    number = admin.audit("maintenance-schedule")[0].detail["maintenance"]
    cancel = f"/admin/maintenance/{number}/cancel"
    assert admin.post(cancel, [("csrf", csrf), ("confirm", "1")]).status == 303
    for index, language in enumerate(LANGUAGES):
        admin.get(f"/admin/?lang={language}")
        seen = {
            "group": shown(admin.post("/admin/status", status_fields(
                csrf, "down", ("gemeenten",))).text),
            "unit": maintenance("2031-03-05T18:00", "3"),
            "duration": maintenance("2031-03-05T18:00", "3 heures"),
            "past": maintenance("2020-01-01T10:00", "2h"),
            "time": maintenance("demain", "2h"),
            "long": maintenance("2031-03-05T18:00", "8d"),
            "position": shown(admin.post("/admin/status",
                                         status_fields(csrf, "exploded")).text),
            "comment": shown(admin.post("/admin/status", status_fields(
                csrf, "down", comments={"fr": "x" * 501})).text),
            "component": shown(admin.post("/admin/status", [
                *status_fields(csrf, "down"), ("component", "toaster")]).text),
            "repeat": shown(admin.post("/admin/status", degraded).text),
            "cancelled": shown(admin.post(cancel, [("csrf", csrf)]).text),
        }
        for kind, page in seen.items():
            expected = REFUSALS[kind][index].format(id=number)
            assert expected in page, (language, kind, page[page.find('id="problem"'):][:300])
        assert "no group" not in seen["group"] and "has no unit" not in seen["unit"]

    # A refused sign-in, in the language of the sign-in page.
    admin.cookies.pop("rnmail_admin")
    good = pyotp.TOTP(admin.secret).now()
    for index, language in enumerate(LANGUAGES):
        admin.get(f"/admin/login?lang={language}")
        refused = shown(admin.login(code=f"{(int(good) + 1) % 1_000_000:06d}").text)
        assert REFUSALS["code"][index] in refused
        assert "wrong operator name" not in refused


def test_kinds_phases_and_suppressed_addresses_are_labels(admin: Admin) -> None:
    add_members(admin.path, "municipalities", ("bevolking@zuid.example", "nl"),
                ("gone@sud.example", "fr"))
    with admin.db.transaction() as session:
        session.add(Suppression(email="gone@sud.example", reason="5 hard bounces",
                                hard_bounces=5))
    csrf = admin.signed_in()
    assert admin.post("/admin/status", [*status_fields(csrf, "down", ("municipalities",)),
                                        ("confirm", "1")]).status == 303
    assert admin.post("/admin/maintenance", [
        ("csrf", csrf), ("start", "2031-03-05T18:00"), ("duration", "2h"),
        ("group", "municipalities"), ("confirm", "1")]).status == 303
    wait_for_mail(admin.smtp, 2)
    with admin.db.transaction() as session:
        [row] = session.scalars(select(OutboxMessage).where(
            OutboxMessage.to_addr == "gone@sud.example", OutboxMessage.state == "suppressed"
        ).limit(1))
        announcement = row.announcement_id
    for language, words in (("fr", ("avis de statut", "maintenance annoncée", "planifiée",
                                    "exclu")),
                            ("nl", ("statusbericht", "onderhoud aangekondigd", "gepland",
                                    "uitgesloten")),
                            ("de", ("Statusmeldung", "Wartung angekündigt", "geplant",
                                    "ausgeschlossen"))):
        dashboard = shown(admin.get(f"/admin/?lang={language}").text)
        kind, maintenance, phase, suppressed = words
        assert f"<td>{kind}</td>" in dashboard and f"<td>{maintenance}</td>" in dashboard
        assert f"<td>{phase}</td>" in dashboard
        for raw in ("outage", "maintenance-announcement", "scheduled"):
            assert f"<td>{raw}" not in dashboard, (language, raw)
        progress = shown(admin.get(f"/admin/announcements/{announcement}").text)
        assert f"<th>{suppressed}</th>" in progress and "supprimé" not in progress
        assert f"<p>{kind} " in progress or f"<p>{kind}," in progress
        preview = shown(admin.post("/admin/status", status_fields(
            csrf, "down", ("municipalities",))).text)
        assert "supprimé" not in preview and ("exclues" in preview or "uitgesloten" in preview
                                              or "ausgeschlossene" in preview)


def test_an_error_keeps_its_english_line_and_translates_on_demand() -> None:
    """The command line and the logs are unchanged: ``str()`` is the English line."""
    try:
        parse_duration("3")
    except RnmailError as exc:
        assert str(exc) == "duration '3' has no unit: use e.g. 3h, 90m, 1h30 or 2d"
        assert exc.translated("nl").startswith("de duur '3' heeft geen eenheid")
        assert exc.translated("en") == str(exc) == exc.translated("xx")
    assert [written_duration(parse_duration(t)) for t in ("8d", "1d2h", "1h30", "45m")] == [
        "8d", "1d2h", "1h30", "45m"]
    missing = NotFound.translatable("no such thing {name}", name="x")
    assert isinstance(missing, NotFound) and missing.translated("fr") == "no such thing x"
    assert RnmailError("plain").translated("fr") == "plain"
    word = RnmailError.translatable("the same notice ({state}, the same comment) went to "
                                    "{groups} at {time}, announcement "
                                    "#{announcement}: not queued again; give --again to "
                                    "send it once more", state=Word("down"), groups="g",
                                    time="t", announcement=1)
    assert "(down," in str(word) and "(hors service," in word.translated("fr")
