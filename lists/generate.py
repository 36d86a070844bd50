"""Write the example lists of this folder: fictitious, deterministic, reserved domains only.

    python lists/generate.py            # rewrites the five *.csv files next to this script

The municipalities are 589 made-up names (300 Dutch-, 262 French- and 27 German-speaking,
as in Belgium) with NIS-like five-digit codes that are unique but invented; every address
is under ``.example`` or ``example.org`` (RFC 2606), so no mail can reach anyone.
Run once; the output is committed, and running it again gives the very same files.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ("email", "name", "language", "organisation", "code")

NL_FIRST = ("Oost", "West", "Noord", "Zuid", "Hoog", "Laag", "Groot", "Klein", "Oud", "Nieuw",
            "Sint-", "Ter ", "Over", "Neder", "Op", "Ruis", "Wil", "Mol", "Kort", "Lang")
NL_STEM = ("bree", "dorp", "hove", "meer", "wijk", "beek", "donk", "hout", "lare", "rode",
           "zele", "kerk", "veld", "brugge", "dijk", "heide", "laken", "loo", "mortel", "voort",
           "berg", "hem", "sele", "velde", "winkel", "zande", "gem", "kapelle", "aart", "linde")
NL_END = ("", "", "", "e", "en", "ene", "gem", "ingen", "ode", "kerke")
FR_FIRST = ("Beau", "Mont", "Val", "Roche", "Bois", "Champ", "Fontaine", "Haut", "Bas", "Petit",
            "Grand", "Clair", "Saint-", "Sainte-", "Vieux-", "Neuf", "Blanc", "Fleur", "Pont",
            "Chêne")
FR_STEM = ("sart", "ville", "mont", "fays", "rieux", "vaux", "court", "mesnil", "chapelle",
           "fontaine", "moulin", "bois", "pré", "roche", "han", "thier", "foy", "ry", "bise",
           "lieu")
FR_END = ("", "", "", "-sur-Meuse", "-sur-Sambre", "-lez-Bois", "-en-Ardenne", "-le-Château",
          "ignies", "ée")
DE_FIRST = ("Eich", "Wald", "Hoch", "Berg", "Roth", "Lind", "Kalt", "Schön", "Born", "Haus")
DE_STEM = ("bach", "feld", "rath", "dorf", "born", "heim", "stein", "hof", "au", "scheid")
NL_CONTACTS = ("Dienst Bevolking", "Dienst Burgerzaken", "Loket Bevolking")
FR_CONTACTS = ("Service Population", "Service Population et État civil", "Guichet Population")
DE_CONTACTS = ("Einwohnermeldeamt", "Bürgerdienst")
NL_PROVINCES = "13473"  # first digits of the NIS-like codes, per language community
FR_PROVINCES = "25689"
DE_PROVINCES = "6"

FIRST_NAMES = {
    "nl": ("Anneleen", "Bart", "Els", "Joris", "Katrien", "Pieter", "Sofie", "Wout"),
    "fr": ("Amélie", "Benoît", "Claire", "Didier", "Élodie", "François", "Isabelle", "Luc"),
    "de": ("Anja", "Jürgen", "Monika", "Stefan"),
}
LAST_NAMES = {
    "nl": ("Van Daele", "De Smedt", "Verbruggen", "Claes", "Wouters", "Maes", "Peeters",
           "Vermeulen"),
    "fr": ("Lambert", "Dubois", "Lemaire", "Collard", "Renard", "Gilson", "Mathieu", "Thiry"),
    "de": ("Kessler", "Jost", "Heinen", "Schröder"),
}


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = "".join(c if c.isalnum() else "-" for c in ascii_text.lower())
    return "-".join(part for part in out.split("-") if part)


def _name(rng: random.Random, language: str) -> str:
    if language == "nl":
        first, stem, end = rng.choice(NL_FIRST), rng.choice(NL_STEM), rng.choice(NL_END)
    elif language == "fr":
        first, stem, end = rng.choice(FR_FIRST), rng.choice(FR_STEM), rng.choice(FR_END)
    else:
        first, stem, end = rng.choice(DE_FIRST), rng.choice(DE_STEM), ""
    if stem.endswith("e") and end[:1] in ("e", "é", "i", "o"):
        stem = stem[:-1]  # roche + ée -> Rochée, hove + en -> hoven
    elif end and stem.endswith(end[0]):
        end = end[1:]  # loo + ode -> lode
    if first.endswith(("-", " ")):
        return first + stem.capitalize() + end
    return first + stem + end


def municipalities(rng: random.Random) -> list[dict[str, str]]:
    counts = {"nl": 300, "fr": 262, "de": 27}
    provinces = {"nl": NL_PROVINCES, "fr": FR_PROVINCES, "de": DE_PROVINCES}
    local = {"nl": "bevolking", "fr": "population", "de": "bevoelkerung"}
    slugs: set[str] = set()
    codes: set[str] = set()
    rows = []
    for language, count in counts.items():
        made = 0
        while made < count:
            name = _name(rng, language)
            if slug(name) in slugs:
                continue
            code = f"{rng.choice(provinces[language])}{rng.randint(1, 9)}{rng.randint(500, 999)}"
            if code in codes:
                continue
            slugs.add(slug(name))
            codes.add(code)
            made += 1
            if language == "nl":
                organisation = f"Gemeente {name}"
                contact = rng.choice(NL_CONTACTS)
            elif language == "fr":
                article = "d'" if name[0] in "AEIOUÉ" else "de "
                organisation = f"Commune {article}{name}"
                contact = rng.choice(FR_CONTACTS)
            else:
                organisation = f"Gemeinde {name}"
                contact = rng.choice(DE_CONTACTS)
            rows.append({"email": f"{local[language]}@{slug(name)}.example", "name": contact,
                         "language": language, "organisation": organisation, "code": code})
    return sorted(rows, key=lambda r: r["code"])


def police_zones(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    seen: set[str] = set()
    for language, count in (("nl", 15), ("fr", 13), ("de", 2)):
        made = 0
        while made < count:
            zone = f"{_name(rng, language)}-{_name(rng, language)}"
            key = slug(zone)
            if key in seen or len(key) > 40:
                continue
            seen.add(key)
            made += 1
            prefix, label, contact = {
                "nl": ("pz", "Politiezone", "Secretariaat korpschef"),
                "fr": ("zp", "Zone de police", "Secrétariat du chef de corps"),
                "de": ("pz", "Polizeizone", "Sekretariat des Korpschefs"),
            }[language]
            rows.append({"email": f"{prefix}-{key}@police.example", "name": contact,
                         "language": language, "organisation": f"{label} {zone}",
                         "code": str(5300 + len(rows) * 7)})
    return rows


def notaries(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    seen: set[str] = set()
    for language, count in (("nl", 9), ("fr", 9), ("de", 2)):
        made = 0
        while made < count:
            first = rng.choice(FIRST_NAMES[language])
            last = rng.choice(LAST_NAMES[language])
            email = f"{slug(first)}.{slug(last).replace('-', '')}@notaries.example"
            if email in seen:
                continue
            seen.add(email)
            made += 1
            town = _name(rng, language)
            office = {"nl": "Notariskantoor", "fr": "Étude du notaire",
                      "de": "Notariat"}[language]
            rows.append({"email": email, "name": f"{first} {last}", "language": language,
                         "organisation": f"{office} {last} ({town})", "code": ""})
    return sorted(rows, key=lambda r: r["email"])


def public_services() -> list[dict[str, str]]:
    services = (
        ("registres-population", "Cellule Registres de population", "fr",
         "Service public fédéral Registres (fictif)"),
        ("bevolkingsregisters", "Cel Bevolkingsregisters", "nl",
         "Federale Overheidsdienst Registers (fictief)"),
        ("identity-cards", "Identity documents unit", "en", "Federal Identity Office (fictitious)"),
        ("cartes-identite", "Cellule Cartes d'identité", "fr", "Office des documents (fictif)"),
        ("sociale-zekerheid", "Helpdesk Kruispuntbank", "nl",
         "Kruispuntbank Sociale Zekerheid (fictief)"),
        ("pensions", "Service des pensions", "fr", "Office fédéral des pensions (fictif)"),
        ("statistiek", "Dienst Demografie", "nl", "Statistiekbureau (fictief)"),
        ("etat-civil", "Cellule État civil", "fr", "Banque de données État civil (fictif)"),
        ("verkehrsamt", "Zulassungsstelle", "de", "Ministerium der DG (fiktiv)"),
        ("elections", "Cellule Élections", "fr", "Direction des élections (fictif)"),
    )
    return [{"email": f"{local}@example.org", "name": name, "language": language,
             "organisation": organisation, "code": ""}
            for local, name, language, organisation in services]


def internal() -> list[dict[str, str]]:
    people = (
        ("helpdesk-lead", "Marie Lambert", "fr", "Help desk"),
        ("it-operations", "Jan Peeters", "nl", "IT operations"),
        ("security", "Security officer", "en", "Information security"),
        ("communication", "Communicatie / Communication", "nl", "Communication"),
        ("direction", "Direction du Registre national", "fr", "Management"),
    )
    return [{"email": f"{local}@rn.example", "name": name, "language": language,
             "organisation": f"Registre national — {team}", "code": ""}
            for local, name, language, team in people]


def write(name: str, rows: Iterable[dict[str, str]]) -> None:
    with (HERE / f"{name}.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(589)
    write("municipalities", municipalities(rng))
    write("police-zones", police_zones(rng))
    write("notaries", notaries(rng))
    write("public-services", public_services())
    write("internal", internal())


if __name__ == "__main__":
    main()
