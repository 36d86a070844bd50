"""Full-text search latency: ``rnmail.tickets.search.search_tickets(session, query, limit=50)`` over
200,000 tickets, on SQLite and on PostgreSQL.

What it measures, in one run per database:

1. **Schema** -- a fresh database (SQLite file in a temp dir, or a fresh PostgreSQL schema
   from ``tests.harness.servers.fresh_postgres_schema()``, dropped at the end) created by
   ``rnmail.db.Database(url).upgrade()``, i.e. the Alembic migrations, including 0003 and its
   search index: an FTS5 table filled by triggers on SQLite, GIN indexes on PostgreSQL.
2. **Fill** (timed) -- N tickets (default 200,000) with 1-3 incoming messages each (~2 per
   ticket, 300-800 characters of display text), written with SQLAlchemy Core bulk inserts
   (``connection.execute(insert(table), [dicts])``, explicit ids, one transaction per chunk of
   5,000 tickets). The index is maintained while inserting: by the FTS5 triggers on SQLite,
   by GIN on PostgreSQL. The texts are generated deterministically from
   ``--seed``: help-desk requests in fr/nl/de/en (access keys, certificates, address changes,
   data corrections, legal questions, web services...) built from vocabulary lists and random
   sentences, with accents, names and Belgian municipalities. Generation time is reported
   apart from insert time. On PostgreSQL the fill ends with ``VACUUM ANALYZE`` (timed apart):
   the state autovacuum would reach, GIN pending list merged, planner statistics present.
3. **Queries** (timed) -- a fixed set of 40 queries (``build_queries()``): very common words, rare
   words, accent-folded forms, two-word AND queries, prefixes (as people type), German and
   Dutch words, and queries with no hit. Each query runs once to warm up, then ``--repeat``
   times (default 5), each call in its own session (``Database.transaction()``, as the CLI
   does) with only the ``search_tickets`` call timed. A query whose warm-up shows that
   ``--repeat`` calls would take more than ``--budget`` seconds (default 10) gets fewer timed
   calls, at least one, so that a run stays within about 15 minutes. Per query: the median,
   min and max latency, the number of calls, the returned rows (<= 50), the number of
   matching tickets (a count over the same MATCH string / tsquery rnmail sent, with no
   limit, not timed), and how the time splits between rnmail's id statements and the
   ticket load (SQL statements timed with cursor events). Overall: median and p95 of the per-query
   medians (every query weighs the same) and the slowest single call. The 1-minute load
   average is logged with each query.
4. **Correctness checks** -- a made-up word planted in exactly 3 known tickets (in a ticket
   subject in capitals, in a first message, and with an accent in a third message) must
   return exactly those 3 tickets, as a full word and as a prefix; accented, unaccented and
   upper-case spellings of a word must find the same tickets; requester names with letters
   outside the Latin-1 accents (``Łukasiewicz``, ``Søndergaard``, ``Ştefănescu``,
   ``Świątkowska``), each planted in 2 known tickets, must be found when typed exactly as
   written; a word in every message (6 each) of 60 tickets, once in the subjects and once
   in the bodies, must give 50 tickets for ``limit=50``. Two informational probes (not
   failures): two words in different messages of the same ticket, and whether the newest
   ticket but one, taken by phone without a note, is among the 50 results for ``clé``.
5. **Where the time goes** -- for the ``--explain`` slowest queries (default 2):
   ``EXPLAIN QUERY PLAN`` (SQLite) or ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL) of the id
   statements exactly as rnmail sent them (captured from the cursor), and the time of the
   bare match (a count of the matching index rows) next to rnmail's id statements.

Run (from the repo root; PostgreSQL on 127.0.0.1:5432, trust auth, database ``test``, user
postgres, for ``--db postgresql``)::

    .venv/bin/python bench/search.py                        # both databases, 200,000 tickets
    .venv/bin/python bench/search.py --db sqlite
    .venv/bin/python bench/search.py --db postgresql --repeat 9
    .venv/bin/python bench/search.py --tickets 20000         # quick check
    .venv/bin/python bench/search.py --db sqlite --keep      # keep the database to explore
    .venv/bin/python bench/search.py --keep --fill-only      # only build it, no queries

To benchmark another copy of the code, put it first on the path as for ``bench/ingest.py``
(``PYTHONPATH=/tmp/snap .venv/bin/python bench/search.py``); the first output line names the
rnmail directory and a hash of its source.

Target: median latency < 50 ms on both databases. The script exits with status 1 when a
correctness check fails. Only loopback addresses and reserved domains (.example, .test) are
used. Results can also be written as JSON (``--json FILE``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Appended, not prepended: `tests` and `bench` are found here, while a PYTHONPATH pointing
    # at a copy of rnmail/ and cli/ still wins over the editable install.
    sys.path.append(str(ROOT))
if str(ROOT / "bench") not in sys.path:
    sys.path.append(str(ROOT / "bench"))

from ingest import code_stamp, log  # noqa: E402  (bench/ingest.py, same directory)

HELPDESK = "info@rn.example"
CHUNK = 5000

# --------------------------------------------------------------------------- vocabulary
# {commune} {date} {ref} {years} {name} are filled per sentence. Categories follow
# rnmail.config.DEFAULT_CATEGORIES.

CATEGORIES = {  # category: weight (share of tickets)
    "access-key": 30, "certificate": 20, "address-change": 15, "data-correction": 10,
    "legal": 5, "web-services": 8, "other": 12,
}
LANG_WEIGHTS = {"fr": 45, "nl": 40, "de": 5, "en": 10}

SUBJECTS: dict[str, dict[str, list[str]]] = {
    "fr": {
        "access-key": ["Clé d'accès bloquée", "Débloquer ma clé d'accès",
                       "Clé d'accès et code PUK perdus", "Demande de nouvelle clé d'accès",
                       "Clé d'accès expirée pour la commune de {commune}",
                       "Problème de connexion avec ma clé d'accès"],
        "certificate": ["Demande de certificat de résidence",
                        "Certificat de composition de ménage",
                        "Certificat de résidence avec historique",
                        "Extrait du Registre national", "Certificat de nationalité"],
        "address-change": ["Changement d'adresse non enregistré",
                           "Changement d'adresse vers {commune}",
                           "Déménagement : adresse toujours incorrecte",
                           "Adresse de référence et changement d'adresse"],
        "data-correction": ["Erreur dans mon nom", "Correction de la date de naissance",
                            "État civil incorrect", "Rectification de données personnelles"],
        "legal": ["Accès aux données par un notaire", "Question juridique sur le registre",
                  "Droit d'accès RGPD : qui a consulté mes données ?",
                  "Réquisition du parquet"],
        "web-services": ["Web services : erreur d'authentification",
                         "Accès aux web services du Registre national",
                         "Certificat client expiré pour les web services",
                         "Timeout sur le web service de consultation"],
        "other": ["Question", "Demande d'information", "Réclamation",
                  "Renseignement urgent", "Suite à mon appel téléphonique"],
    },
    "nl": {
        "access-key": ["Toegangssleutel geblokkeerd", "Toegangssleutel deblokkeren",
                       "Nieuwe toegangssleutel aanvragen", "PUK-code en toegangssleutel kwijt",
                       "Toegangssleutel vervallen voor gemeente {commune}"],
        "certificate": ["Aanvraag attest van woonst", "Attest van gezinssamenstelling",
                        "Uittreksel uit het Rijksregister", "Attest van woonst met historiek"],
        "address-change": ["Adreswijziging niet verwerkt", "Adreswijziging naar {commune}",
                           "Verhuizing: adres nog steeds fout",
                           "Referentieadres en adreswijziging"],
        "data-correction": ["Fout in mijn naam", "Verbetering geboortedatum",
                            "Burgerlijke staat niet correct",
                            "Rechtzetting van persoonsgegevens"],
        "legal": ["Toegang tot gegevens door notaris", "Juridische vraag over het Rijksregister",
                  "Inzagerecht AVG: wie heeft mijn gegevens geraadpleegd?",
                  "Vordering van het parket"],
        "web-services": ["Webservices: authenticatiefout",
                         "Toegang tot de web services van het Rijksregister",
                         "Clientcertificaat vervallen voor de web services",
                         "Timeout bij de raadplegingsdienst"],
        "other": ["Vraag", "Vraag om informatie", "Klacht", "Dringende vraag",
                  "Naar aanleiding van mijn telefoongesprek"],
    },
    "de": {
        "access-key": ["Zugangsschlüssel gesperrt", "Zugangsschlüssel entsperren",
                       "Neuen Zugangsschlüssel beantragen",
                       "PUK-Code und Zugangsschlüssel verloren"],
        "certificate": ["Antrag auf Wohnsitzbescheinigung",
                        "Bescheinigung der Haushaltszusammensetzung",
                        "Auszug aus dem Nationalregister"],
        "address-change": ["Adressänderung nicht eingetragen", "Adressänderung nach {commune}",
                           "Umzug: Adresse immer noch falsch"],
        "data-correction": ["Fehler in meinem Namen", "Berichtigung des Geburtsdatums",
                            "Familienstand nicht korrekt"],
        "legal": ["Datenzugriff durch einen Notar", "Rechtliche Frage zum Nationalregister"],
        "web-services": ["Web-Services: Authentifizierungsfehler",
                         "Zugang zu den Web-Services des Nationalregisters"],
        "other": ["Frage", "Bitte um Auskunft", "Beschwerde", "Dringende Anfrage"],
    },
    "en": {
        "access-key": ["Access key blocked", "Unblock my access key", "Lost access key and PUK",
                       "New access key request"],
        "certificate": ["Certificate of residence request", "Household composition certificate",
                        "Extract from the National Register"],
        "address-change": ["Change of address not registered", "Change of address to {commune}",
                           "Moved house: address still wrong"],
        "data-correction": ["Error in my name", "Correction of my date of birth",
                            "Civil status incorrect"],
        "legal": ["Data access by a notary", "Legal question about the National Register",
                  "GDPR access request"],
        "web-services": ["Web services: authentication error",
                         "Access to the National Register web services"],
        "other": ["Question", "Request for information", "Complaint", "Urgent question"],
    },
}

SENTENCES: dict[str, dict[str, list[str]]] = {
    "fr": {
        "access-key": [
            "Ma clé d'accès est bloquée après trois essais erronés.",
            "Pouvez-vous débloquer ma clé d'accès au Registre national ?",
            "Le message indique que la clé d'accès a expiré depuis le {date}.",
            "J'ai perdu le courrier contenant ma clé d'accès et mon code PUK.",
            "Notre agent communal de {commune} n'arrive plus à se connecter avec sa clé d'accès.",
            "La connexion échoue avec l'erreur « accès refusé » depuis ce matin.",
            "Faut-il introduire une nouvelle demande de clé d'accès auprès de votre service ?",
            "Le lecteur de carte eID ne reconnaît plus le certificat d'authentification.",
            "Après le renouvellement de ma carte d'identité, la clé d'accès ne fonctionne plus.",
        ],
        "certificate": [
            "Je souhaiterais obtenir un certificat de résidence avec historique des adresses.",
            "Le certificat de composition de ménage n'est pas disponible dans Mon Dossier.",
            "Pour mon employeur, j'ai besoin d'un extrait du Registre national en anglais.",
            "Le téléchargement du certificat échoue avec une page blanche.",
            "Le certificat de résidence mentionne encore mon ancienne adresse à {commune}.",
            "Pouvez-vous m'envoyer le certificat par courrier électronique ?",
            "La banque exige un certificat de nationalité daté de moins de trois mois.",
        ],
        "address-change": [
            "J'ai déménagé à {commune} le {date} mais mon adresse n'est toujours pas modifiée.",
            "L'agent de quartier est passé, pourtant le changement d'adresse n'apparaît pas.",
            "Ma nouvelle adresse figure à la commune mais pas dans le Registre national.",
            "Le changement d'adresse de mes enfants a été oublié.",
            "Puis-je consulter l'historique de mes adresses en ligne ?",
            "Je vis à une adresse de référence depuis {years} ans.",
        ],
        "data-correction": [
            "Mon nom de famille est mal orthographié : il manque un accent.",
            "La date de naissance enregistrée est erronée.",
            "Mon état civil indique encore « marié » alors que le divorce est prononcé "
            "depuis le {date}.",
            "Le lieu de naissance de ma fille est incorrect.",
            "Je demande la rectification de mes données conformément au RGPD.",
        ],
        "legal": [
            "En tant que notaire, je dois vérifier l'identité des parties avant l'acte.",
            "Qui a consulté mes données au cours des six derniers mois ?",
            "Sur quelle base légale la société a-t-elle obtenu mon numéro de registre national ?",
            "Nous préparons une réponse à une réquisition du parquet de {commune}.",
            "Un huissier de justice peut-il consulter mon adresse ?",
        ],
        "web-services": [
            "Notre application reçoit une erreur SOAP lors de l'appel au web service.",
            "Le certificat client utilisé pour les web services expire le {date}.",
            "Depuis la mise à jour, la consultation par web service renvoie un timeout.",
            "Pouvez-vous autoriser notre nouveau serveur pour l'environnement de test ?",
            "La délibération du comité sectoriel porte la référence {ref}.",
        ],
        "other": [
            "Je n'ai pas reçu de réponse à mon courriel précédent.",
            "Pourriez-vous me rappeler au sujet de ce dossier ?",
            "Le service de la population de {commune} m'a renvoyé vers vous.",
            "Merci de traiter cette demande rapidement.",
            "Je souhaite introduire une réclamation contre le délai de traitement.",
        ],
        "generic": [
            "Mon numéro de dossier est le {ref}.",
            "J'habite à {commune} depuis {years} ans.",
            "J'ai déjà appelé le help desk le {date}, sans succès.",
            "Vous trouverez ci-dessous les informations demandées.",
            "Je reste à votre disposition pour tout renseignement complémentaire.",
            "C'est assez urgent car je dois fournir ce document avant la fin du mois.",
            "Je joins une copie de ma carte d'identité.",
        ],
        "greetings": ["Bonjour,", "Madame, Monsieur,", "Bonjour Madame, Monsieur,"],
        "closings": ["Merci d'avance pour votre aide.", "Je vous remercie de votre réponse.",
                     "Cordialement,", "Bien à vous,"],
        "followups": ["Je me permets de vous relancer concernant ma demande.",
                      "Merci pour votre réponse, mais le problème persiste.",
                      "Voici les précisions que vous m'avez demandées."],
    },
    "nl": {
        "access-key": [
            "Mijn toegangssleutel is geblokkeerd na drie foute pogingen.",
            "Kunt u mijn toegangssleutel voor het Rijksregister deblokkeren?",
            "De melding zegt dat de toegangssleutel vervallen is sinds {date}.",
            "Ik ben de brief met mijn toegangssleutel en PUK-code kwijt.",
            "Onze gemeentelijke medewerker in {commune} kan niet meer inloggen met zijn "
            "toegangssleutel.",
            "Het aanmelden mislukt sinds vanochtend met de fout „toegang geweigerd”.",
            "Moet ik een nieuwe aanvraag voor een toegangssleutel indienen?",
            "Na de vernieuwing van mijn identiteitskaart werkt de toegangssleutel niet meer.",
        ],
        "certificate": [
            "Ik had graag een attest van woonst met historiek van de adressen.",
            "Het attest van gezinssamenstelling is niet beschikbaar in Mijn Dossier.",
            "Voor mijn werkgever heb ik een uittreksel uit het Rijksregister in het Engels nodig.",
            "Het downloaden van het attest mislukt met een wit scherm.",
            "Op het attest van woonst staat nog mijn oude adres in {commune}.",
            "Kunt u het attest per e-mail bezorgen?",
        ],
        "address-change": [
            "Ik ben op {date} naar {commune} verhuisd maar mijn adres is nog niet gewijzigd.",
            "De wijkagent is langsgekomen, toch is de adreswijziging niet zichtbaar.",
            "Mijn nieuwe adres staat bij de gemeente maar niet in het Rijksregister.",
            "De adreswijziging van mijn kinderen is vergeten.",
            "Kan ik de historiek van mijn adressen online bekijken?",
            "Ik woon al {years} jaar op een referentieadres.",
        ],
        "data-correction": [
            "Mijn familienaam is verkeerd gespeld.",
            "De geregistreerde geboortedatum is fout.",
            "Mijn burgerlijke staat vermeldt nog „gehuwd” terwijl de echtscheiding sinds "
            "{date} is uitgesproken.",
            "De geboorteplaats van mijn dochter is niet correct.",
            "Ik vraag de rechtzetting van mijn gegevens volgens de AVG.",
        ],
        "legal": [
            "Als notaris moet ik de identiteit van de partijen controleren voor de akte.",
            "Wie heeft mijn gegevens de voorbije zes maanden geraadpleegd?",
            "Op welke wettelijke basis heeft het bedrijf mijn rijksregisternummer verkregen?",
            "Wij bereiden een antwoord voor op een vordering van het parket van {commune}.",
        ],
        "web-services": [
            "Onze toepassing krijgt een SOAP-fout bij het oproepen van de webservice.",
            "Het clientcertificaat voor de web services vervalt op {date}.",
            "Sinds de update geeft de raadpleging via webservice een timeout.",
            "De machtiging van het sectoraal comité heeft referentie {ref}.",
        ],
        "other": [
            "Ik heb geen antwoord gekregen op mijn vorige e-mail.",
            "Kunt u mij terugbellen over dit dossier?",
            "De dienst bevolking van {commune} heeft mij naar u doorverwezen.",
            "Gelieve deze aanvraag snel te behandelen.",
        ],
        "generic": [
            "Mijn dossiernummer is {ref}.",
            "Ik woon al {years} jaar in {commune}.",
            "Ik heb de helpdesk al op {date} gebeld, zonder resultaat.",
            "Hieronder vindt u de gevraagde gegevens.",
            "Het is vrij dringend want ik moet dit document voor het einde van de maand bezorgen.",
            "In bijlage een kopie van mijn identiteitskaart.",
        ],
        "greetings": ["Goedendag,", "Geachte mevrouw, geachte heer,", "Beste,"],
        "closings": ["Alvast bedankt voor uw hulp.", "Met vriendelijke groeten,",
                     "Dank u voor uw antwoord.", "Groeten,"],
        "followups": ["Ik kom terug op mijn vraag van vorige week.",
                      "Bedankt voor uw antwoord, maar het probleem blijft.",
                      "Hier zijn de gevraagde verduidelijkingen."],
    },
    "de": {
        "access-key": [
            "Mein Zugangsschlüssel ist nach drei Fehlversuchen gesperrt.",
            "Können Sie meinen Zugangsschlüssel für das Nationalregister entsperren?",
            "Die Meldung besagt, dass der Zugangsschlüssel seit dem {date} abgelaufen ist.",
            "Ich habe den Brief mit meinem Zugangsschlüssel und dem PUK-Code verloren.",
            "Unser Gemeindemitarbeiter in {commune} kann sich nicht mehr anmelden.",
        ],
        "certificate": [
            "Ich benötige eine Wohnsitzbescheinigung mit dem Verlauf meiner Adressen.",
            "Die Bescheinigung der Haushaltszusammensetzung ist in Mein Dossier nicht verfügbar.",
            "Für meinen Arbeitgeber brauche ich einen Auszug aus dem Nationalregister.",
            "Die Wohnsitzbescheinigung zeigt noch meine alte Adresse in {commune}.",
        ],
        "address-change": [
            "Ich bin am {date} nach {commune} umgezogen, aber meine Adresse ist unverändert.",
            "Der Viertelagent war da, trotzdem ist die Adressänderung nicht sichtbar.",
            "Die Adressänderung meiner Kinder wurde vergessen.",
        ],
        "data-correction": [
            "Mein Familienname ist falsch geschrieben, es fehlt ein Umlaut.",
            "Das eingetragene Geburtsdatum ist falsch.",
            "Mein Familienstand lautet noch „verheiratet“, obwohl die Scheidung seit dem {date} "
            "rechtskräftig ist.",
        ],
        "legal": [
            "Als Notar muss ich die Identität der Parteien vor der Beurkundung prüfen.",
            "Wer hat in den letzten sechs Monaten meine Daten abgefragt?",
        ],
        "web-services": [
            "Unsere Anwendung erhält einen SOAP-Fehler beim Aufruf des Web-Services.",
            "Das Client-Zertifikat für die Web-Services läuft am {date} ab.",
        ],
        "other": [
            "Ich habe keine Antwort auf meine letzte E-Mail erhalten.",
            "Könnten Sie mich bezüglich dieser Akte zurückrufen?",
            "Das Einwohnermeldeamt von {commune} hat mich an Sie verwiesen.",
        ],
        "generic": [
            "Meine Aktennummer lautet {ref}.",
            "Ich wohne seit {years} Jahren in {commune}.",
            "Ich habe den Helpdesk bereits am {date} angerufen, ohne Erfolg.",
            "Es ist ziemlich dringend, da ich das Dokument bis Monatsende vorlegen muss.",
        ],
        "greetings": ["Guten Tag,", "Sehr geehrte Damen und Herren,"],
        "closings": ["Vielen Dank im Voraus.", "Mit freundlichen Grüßen,", "Freundliche Grüße,"],
        "followups": ["Ich erlaube mir, an meine Anfrage zu erinnern.",
                      "Danke für Ihre Antwort, aber das Problem besteht weiterhin."],
    },
    "en": {
        "access-key": [
            "My access key is blocked after three wrong attempts.",
            "Could you unblock my access key for the National Register?",
            "The message says the access key expired on {date}.",
            "I lost the letter with my access key and PUK code.",
            "Our municipal clerk in {commune} can no longer log in with the access key.",
        ],
        "certificate": [
            "I would like a certificate of residence with the history of my addresses.",
            "The household composition certificate is not available in My File.",
            "My employer needs an extract from the National Register in English.",
            "The certificate of residence still shows my old address in {commune}.",
        ],
        "address-change": [
            "I moved to {commune} on {date} but my address has not been changed.",
            "The local police officer came by, yet the change of address does not show.",
            "The change of address of my children was forgotten.",
        ],
        "data-correction": [
            "My surname is misspelled, an accent is missing.",
            "The registered date of birth is wrong.",
            "My civil status still says married although the divorce was granted on {date}.",
        ],
        "legal": [
            "As a notary I must check the identity of the parties before the deed.",
            "Who consulted my data in the last six months?",
        ],
        "web-services": [
            "Our application receives a SOAP fault when calling the web service.",
            "The client certificate for the web services expires on {date}.",
        ],
        "other": [
            "I did not receive an answer to my previous email.",
            "Could you call me back about this file?",
            "The population office of {commune} referred me to you.",
        ],
        "generic": [
            "My file number is {ref}.",
            "I have lived in {commune} for {years} years.",
            "I already called the help desk on {date}, without success.",
            "It is rather urgent as I must provide the document before the end of the month.",
        ],
        "greetings": ["Hello,", "Dear Sir or Madam,", "Good morning,"],
        "closings": ["Thank you in advance for your help.", "Kind regards,", "Best regards,"],
        "followups": ["I am following up on my request.",
                      "Thank you for your answer, but the problem persists."],
    },
}

# Zipf-weighted below: the first ones are frequent, the last ones rare.
COMMUNES = [
    "Bruxelles", "Antwerpen", "Gent", "Liège", "Charleroi", "Schaerbeek", "Anderlecht",
    "Brugge", "Namur", "Leuven", "Mons", "Molenbeek-Saint-Jean", "Ixelles", "Mechelen",
    "Aalst", "Uccle", "Hasselt", "Sint-Niklaas", "Kortrijk", "Oostende", "Genk", "Tournai",
    "Seraing", "Verviers", "Mouscron", "Roeselare", "Etterbeek", "Jette", "Wavre", "Arlon",
    "Zaventem", "Forest", "Woluwe-Saint-Lambert", "Herstal", "Dinant", "Eupen", "Ath",
    "Bastogne", "Sankt Vith", "Kelmis", "Bütgenbach", "Malmedy", "Comines-Warneton",
    "Fourons", "Lontzen", "Büllingen", "Raeren", "Amblève", "Héron", "Érezée",
]
FIRST_NAMES = {
    "fr": ["Jean", "Marie", "Sophie", "Luc", "Nathalie", "Pierre", "Isabelle", "François",
           "Céline", "Hélène", "Benoît", "Amélie", "Jérôme", "Noémie", "Gaëtan", "Loïc"],
    "nl": ["Jan", "An", "Pieter", "Els", "Koen", "Liesbeth", "Wouter", "Sofie", "Bart", "Inge",
           "Joëlle", "Daan", "Anaïs", "Jef"],
    "de": ["Jürgen", "Monika", "Klaus", "Sabine", "Günther", "Käthe", "Jörg", "Uwe"],
    "en": ["John", "Mary", "David", "Sarah", "Ahmed", "Fatima", "Maria", "Mehmet"],
}
LAST_NAMES = [
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
    "Wouters", "De Smet", "Dubois", "Lambert", "Martin", "Dupont", "Simon", "Laurent",
    "Leclercq", "Lemaire", "Renard", "Schmitz", "Müller", "Kessler", "Vandenbroucke",
    "Lefèvre", "Dumoulin", "Gérard", "Noël", "Herbrand", "Lejeune", "Yılmaz", "El Amrani",
]
SYLLABLES = ["van", "der", "bro", "eck", "mon", "vil", "ler", "hout", "bek", "ger", "dael",
             "rot", "mé", "lin", "cour", "tois", "kamp", "berg", "haus", "lo", "ste", "vens",
             "gaux", "drie", "zee", "mark"]


def _synthetic_surnames(n: int) -> list[str]:
    """n distinct made-up surnames (3 syllables): each appears in few tickets."""
    rng = random.Random(4242)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


SYNTHETIC_SURNAMES = _synthetic_surnames(4000)

# Planted: a made-up word in exactly 3 tickets, names with letters beyond Latin-1 in 2 each,
# and two words in different messages of one ticket.
RARE_WORD = "quorvandel"
NAMES_OUTSIDE_LATIN1 = ["Łukasiewicz", "Søndergaard", "Ştefănescu", "Świątkowska"]
SPLIT_WORDS = ("zephyrant", "glimmerox")
# 60 tickets of 6 messages each: a word in every message's subject / in every message's body.
THREAD_WORDS = ("brontavique", "selvarinde")
THREADS, THREAD_MESSAGES = 60, 6
# The newest ticket but one: taken by phone without a note (its one message is empty).
PHONE_SUBJECT = "Clé d'accès bloquée"


def planted_ids(n: int) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "rare": [n // 7, n // 2 + 3, n - 1],
        "names": {name: [n // d1, n // d2] for name, (d1, d2) in
                  zip(NAMES_OUTSIDE_LATIN1, [(11, 13), (17, 19), (23, 29), (31, 37)], strict=True)},
        "split": n // 3,
        "thread_subject": [n // 2 + n // 200 + 7 * i for i in range(THREADS)],
        "thread_body": [3 * n // 4 + 7 * i for i in range(THREADS)],
        "phone": n - 2,
    }
    every = [*plan["rare"], *(i for ids in plan["names"].values() for i in ids), plan["split"],
             *plan["thread_subject"], *plan["thread_body"], plan["phone"]]
    if len(set(every)) != len(every) or min(every) < 1:
        raise SystemExit(f"--tickets {n} too small for distinct planted tickets")
    return plan


# --------------------------------------------------------------------------- generator

class Generator:
    """Deterministic tickets and messages, chunk by chunk (same seed -> same rows)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self.plan = planted_ids(n)
        self.name_of = {tid: name for name, ids in self.plan["names"].items() for tid in ids}
        self.thread_subject = set(self.plan["thread_subject"])
        self.thread_body = set(self.plan["thread_body"])
        self.next_message_id = 1
        self.base = datetime(2019, 1, 1, 8, 0, tzinfo=UTC)
        self.span = timedelta(days=6 * 365)
        self.categories = list(CATEGORIES)
        self.category_w = list(CATEGORIES.values())
        self.langs = list(LANG_WEIGHTS)
        self.lang_w = list(LANG_WEIGHTS.values())
        self.commune_w = [1 / (i + 1) ** 1.1 for i in range(len(COMMUNES))]

    def _fill(self, rng: random.Random, sentence: str, created: datetime) -> str:
        if "{" not in sentence:
            return sentence
        day = created - timedelta(days=rng.randint(1, 400))
        return sentence.format(
            commune=rng.choices(COMMUNES, self.commune_w)[0],
            date=day.strftime("%d/%m/%Y"),
            ref=f"RN/{day.year}/{rng.randint(0, 999_999):06d}",
            years=rng.randint(2, 30), name="")

    def _body(self, rng: random.Random, lang: str, cat: str, created: datetime,
              signature: str, followup: bool) -> str:
        pool = SENTENCES[lang]
        target = rng.randint(300, 800)
        parts = [rng.choice(pool["greetings"])]
        if followup:
            parts.append(rng.choice(pool["followups"]))
        body: list[str] = []
        size = sum(map(len, parts)) + len(signature) + 40
        while size < target:
            source = pool[cat] if rng.random() < 0.7 else pool["generic"]
            sentence = self._fill(rng, rng.choice(source), created)
            body.append(sentence)
            size += len(sentence) + 1
        parts.append(" ".join(body))
        parts.append(rng.choice(pool["closings"]))
        parts.append(signature)
        return "\n\n".join(parts)

    def chunk(self, first: int, last: int) -> tuple[list[dict], list[dict]]:
        """Tickets first..last (inclusive) and their messages."""
        rng = random.Random(self.seed * 1_000_003 + first)
        tickets: list[dict] = []
        messages: list[dict] = []
        for tid in range(first, last + 1):
            lang = rng.choices(self.langs, self.lang_w)[0]
            cat = rng.choices(self.categories, self.category_w)[0]
            created = self.base + self.span * (tid / self.n) + timedelta(
                minutes=rng.randint(0, 600))
            first_name = rng.choice(FIRST_NAMES[lang])
            last_name = (rng.choice(LAST_NAMES) if rng.random() < 0.5
                         else rng.choice(SYNTHETIC_SURNAMES))
            if tid in self.name_of:
                last_name = self.name_of[tid]
            full_name = f"{first_name} {last_name}"
            ascii_name = (first_name + "." + last_name).lower().replace(" ", "")
            ascii_name = ascii_name.encode("ascii", "ignore").decode() or "x"
            kind = rng.random()
            if kind < 0.08:
                requester_type, domain = "municipality", "commune.example"
            elif kind < 0.11:
                requester_type, domain = "notary", "notaire.example"
            elif kind < 0.14:
                requester_type, domain = "company", "company.test"
            else:
                requester_type, domain = "citizen", "citizen.example"
            requester = f"{ascii_name}{tid % 97}@{domain}"
            subject = self._fill(rng, rng.choice(SUBJECTS[lang][cat]), created)
            n_msgs = rng.choices((1, 2, 3), (40, 40, 20))[0]
            if tid == self.plan["rare"][2]:
                n_msgs = 3
            if tid == self.plan["split"]:
                n_msgs = max(n_msgs, 2)
            if tid == self.plan["rare"][0]:
                subject = f"URGENT {RARE_WORD.upper()} : {subject}"
            if tid in self.thread_subject:
                subject = f"{subject} ({THREAD_WORDS[0]})"
            if tid in self.thread_subject or tid in self.thread_body:
                n_msgs = THREAD_MESSAGES
            status = "closed" if tid < self.n * 0.9 else rng.choice(("open", "pending", "closed"))
            channel = rng.choices(("mail", "phone", "fax", "letter"), (90, 6, 3, 1))[0]
            if tid == self.plan["phone"]:  # taken by phone, no note: the call is its message
                lang, cat, channel, n_msgs = "fr", "access-key", "phone", 1
                subject, requester = f"{PHONE_SUBJECT} (appel)", "+3220000000"
            bodies = [self._body(rng, lang, cat, created, full_name, followup=i > 0)
                      for i in range(n_msgs)]
            if tid == self.plan["phone"]:
                bodies = [""]  # as `rnmail ticket new` records a call without a note
            if tid == self.plan["rare"][1]:
                bodies[0] = bodies[0].replace("\n\n", f"\n\nDossier {RARE_WORD}, ", 1)
            if tid == self.plan["rare"][2]:
                bodies[2] = bodies[2].replace("\n\n", f"\n\nRéférence {RARE_WORD[:-2]}él. ", 1)
            if tid in self.thread_body:
                bodies = [b.replace("\n\n", f"\n\n{THREAD_WORDS[1]}. ", 1) for b in bodies]
            if tid == self.plan["split"]:
                bodies[0] = bodies[0].replace("\n\n", f"\n\n{SPLIT_WORDS[0]} ", 1)
                bodies[1] = bodies[1].replace("\n\n", f"\n\n{SPLIT_WORDS[1]} ", 1)
            last_at = created
            for i, body in enumerate(bodies):
                at = created + timedelta(days=2 * i, minutes=rng.randint(0, 300))
                last_at = at
                messages.append({
                    "id": self.next_message_id, "ticket_id": tid, "direction": "in",
                    "kind": "correspondence", "from_addr": requester, "from_name": full_name,
                    "to_addrs": [HELPDESK], "cc_addrs": [],
                    "subject": subject if i == 0 else f"Re: [RN #{tid}] {subject}",
                    "date": at, "text": body + "\n\n-- \n" + full_name + "\n",
                    "display_text": body, "created_at": at,
                })
                self.next_message_id += 1
            tickets.append({
                "id": tid, "subject": subject, "status": status, "channel": channel,
                "requester": requester, "requester_name": full_name,
                "requester_type": requester_type, "category": cat, "language": lang,
                "mailbox": "info", "created_at": created, "updated_at": last_at,
                "closed_at": last_at + timedelta(days=1) if status == "closed" else None,
            })
        return tickets, messages


# --------------------------------------------------------------------------- database

@contextlib.contextmanager
def fresh_database(kind: str, work: Path, keep: bool) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'search.db'}"
        return
    from tests.harness.servers import fresh_postgres_schema, postgres_problem

    problem = postgres_problem()
    if problem:
        raise SystemExit(problem)
    if keep:
        import uuid

        from tests.harness.servers import _pg_connect, postgres_url

        schema = f"bench_search_{uuid.uuid4().hex[:8]}"
        with _pg_connect() as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        log(f"[postgresql] --keep: schema {schema} is left in place; drop it with "
            f"psql -h 127.0.0.1 -U postgres test -c 'DROP SCHEMA \"{schema}\" CASCADE'")
        yield f"{postgres_url()}?options=-csearch_path%3D{schema}"
        return
    with fresh_postgres_schema() as url:
        yield url


def fill(db: Any, n: int, seed: int, kind: str) -> dict[str, Any]:
    """Bulk-insert n tickets and their messages; returns timings and counts."""
    from sqlalchemy import insert, text

    from rnmail.models import Message, Ticket

    gen = Generator(n, seed)
    gen_s = insert_s = 0.0
    n_messages = 0
    text_chars = 0
    t_start = time.perf_counter()
    for first in range(1, n + 1, CHUNK):
        last = min(n, first + CHUNK - 1)
        t0 = time.perf_counter()
        tickets, messages = gen.chunk(first, last)
        t1 = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(insert(Ticket.__table__), tickets)
            conn.execute(insert(Message.__table__), messages)
        t2 = time.perf_counter()
        gen_s += t1 - t0
        insert_s += t2 - t1
        n_messages += len(messages)
        text_chars += sum(len(m["display_text"]) for m in messages)
        if last % 50_000 == 0 or last == n:
            log(f"[{kind}] filled {last:,} tickets, {n_messages:,} messages "
                f"({time.perf_counter() - t_start:.0f}s; load {os.getloadavg()[0]:.1f})")
    res: dict[str, Any] = {"tickets": n, "messages": n_messages, "generate_s": gen_s,
                           "insert_s": insert_s, "fill_s": time.perf_counter() - t_start,
                           "avg_display_chars": text_chars / n_messages,
                           "load1": os.getloadavg()[0]}
    if kind == "postgresql":
        t0 = time.perf_counter()
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM ANALYZE ticket"))
            conn.execute(text("VACUUM ANALYZE message"))
            res["vacuum_analyze_s"] = time.perf_counter() - t0
            res["sizes"] = {name: conn.execute(text(
                f"SELECT pg_size_pretty(pg_total_relation_size('{name}'))")).scalar_one()
                for name in ("ticket", "message")}
            res["sizes"].update({name: conn.execute(text(
                f"SELECT pg_size_pretty(pg_relation_size('{name}'))")).scalar_one()
                for name in ("ix_message_search",)})
    else:
        path = Path(db.engine.url.database)
        # Outside a transaction: rnmail's connections BEGIN IMMEDIATE on first use, and a
        # checkpoint inside one fails with "database table is locked".
        raw = db.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        with db.engine.connect() as conn:
            try:
                rows = conn.exec_driver_sql(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name").all()
                per = dict(rows)
                fts = sum(v for k, v in per.items() if k.startswith("search_index"))
                res["sizes"] = {"file": f"{path.stat().st_size / 2**20:.0f} MB",
                                "search_index (FTS5)": f"{fts / 2**20:.0f} MB",
                                "message": f"{per.get('message', 0) / 2**20:.0f} MB"}
            except Exception:  # dbstat not compiled in
                res["sizes"] = {"file": f"{path.stat().st_size / 2**20:.0f} MB"}
    return res


# --------------------------------------------------------------------------- queries

def build_queries() -> list[tuple[str, str]]:
    """(kind, query): the fixed query set."""
    rare_surname = SYNTHETIC_SURNAMES[1234]
    return [
        ("common", "clé"), ("common", "bonjour"), ("common", "certificat"),
        ("common", "adresse"), ("common", "registre"), ("common nl", "Rijksregister"),
        ("common nl", "toegangssleutel"), ("nl", "adreswijziging"),
        ("de", "Zugangsschlüssel"), ("de", "Wohnsitzbescheinigung"),
        ("folded", "debloquer"), ("accented", "débloquer"), ("upper", "DÉBLOQUER"),
        ("folded", "residence"), ("folded", "etat civil"), ("folded de", "zugangsschlussel"),
        ("folded de", "adressanderung"), ("folded", "cle d'acces"),
        ("and", "clé bloquée"), ("and", "certificat résidence"), ("and", "changement adresse"),
        ("and", "web services"), ("and nl", "toegangssleutel geblokkeerd"),
        ("and en", "access key"), ("and", "date naissance"), ("and", "Gent attest"),
        ("and en", "certificate of residence"),
        ("prefix", "certif"), ("prefix", "débloq"), ("prefix nl", "adreswijz"),
        ("prefix de", "zugangs"), ("prefix", "web serv"), ("prefix short", "ré"),
        ("rare", "huissier"), ("rare", "Bütgenbach"), ("rare", rare_surname),
        ("rare planted", RARE_WORD), ("rare name", NAMES_OUTSIDE_LATIN1[0]),
        ("no hit", "xylophonique"), ("no hit", f"zzyzx {RARE_WORD}"),
    ]


class StatementTimer:
    """Times every SQL statement sent through the engine (cursor events)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.calls: list[tuple[str, Any, float]] = []
        self._t0 = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any,
                context: Any, executemany: bool) -> None:
        self._t0 = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any,
               context: Any, executemany: bool) -> None:
        self.calls.append((statement, parameters, time.perf_counter() - self._t0))


def is_id_query(statement: str) -> bool:
    return "search_index" in statement or "to_tsquery" in statement


def pg_document(conn: Any) -> str:
    """What migration 0003 indexes on PostgreSQL for message m: the stored ``search_vector``
    column, or (before commit 273969d) a GIN expression index."""
    from sqlalchemy import text

    stored = conn.execute(text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND column_name = 'search_vector'")).scalar_one()
    if stored:
        return "m.search_vector"
    return "to_tsvector('simple', rn_fold(m.subject || ' ' || m.display_text))"


def count_matching(db: Any, statements: list[tuple[str, Any]]) -> int:
    """Matching tickets, from the parameters rnmail sent (its FTS5 MATCH string or its
    tsquery), with no limit: a count over the same index."""
    from sqlalchemy import text

    if not statements:
        return 0
    params = statements[0][1]
    with db.engine.connect() as conn:
        if db.is_sqlite:
            return int(conn.execute(text(
                "SELECT count(DISTINCT ticket_id) FROM search_index "
                "WHERE search_index MATCH :m"), {"m": params[0]}).scalar_one())
        message_doc = pg_document(conn)
        return int(conn.execute(text(
            f"SELECT count(DISTINCT ticket_id) FROM message m "
            f"WHERE {message_doc} @@ to_tsquery('simple', :q)"),
            {"q": params["tsquery"]}).scalar_one())


def run_queries(db: Any, kind: str, repeat: int, budget: float) -> list[dict[str, Any]]:
    from rnmail.tickets.search import search_tickets

    timer = StatementTimer(db.engine)
    out: list[dict[str, Any]] = []
    for qkind, query in build_queries():
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        with db.transaction() as session:  # warm-up
            search_tickets(session, query, limit=50)
        warm = time.perf_counter() - t0
        # Slow queries get fewer timed calls, so that one pass stays within minutes.
        calls = repeat if warm * repeat <= budget else max(1, int(budget // warm))
        times, id_times, load_times = [], [], []
        rows: list[dict[str, Any]] = []
        captured: list[tuple[str, Any]] = []
        for _ in range(calls):
            timer.calls.clear()
            with db.transaction() as session:
                t0 = time.perf_counter()
                rows = search_tickets(session, query, limit=50)
                times.append(time.perf_counter() - t0)
            ids_q = [c for c in timer.calls if is_id_query(c[0])]
            id_times.append(sum(c[2] for c in ids_q))
            load_times.append(sum(c[2] for c in timer.calls if not is_id_query(c[0])
                                  and c[0].lstrip().upper().startswith("SELECT")))
            if ids_q:
                captured = [(c[0], c[1]) for c in ids_q]
        total = count_matching(db, captured)
        res = {"kind": qkind, "query": query, "returned": len(rows), "total": total,
               "ids": [r["id"] for r in rows], "times_ms": [t * 1000 for t in times],
               "median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
               "max_ms": max(times) * 1000,
               "id_query_ms": statistics.median(id_times) * 1000,
               "load_ms": statistics.median(load_times) * 1000,
               "warmup_ms": warm * 1000, "calls": calls, "load1": load,
               "statements": captured}
        out.append(res)
        log(f"[{kind}] {query!r:32} {res['median_ms']:9.1f} ms median "
            f"of {calls} (id query {res['id_query_ms']:.1f}, ticket load {res['load_ms']:.1f}); "
            f"{len(rows)} returned / {total:,} matching; load {load:.1f}")
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --------------------------------------------------------------------------- checks

def search_ids(db: Any, query: str, limit: int = 50) -> list[int]:
    from rnmail.tickets.search import search_tickets

    with db.transaction() as session:
        return [r["id"] for r in search_tickets(session, query, limit=limit)]


def matching_ids(db: Any, query: str) -> list[int]:
    """Every matching ticket, from rnmail's own id query without a limit (search_tickets
    itself loads the tickets with one bind parameter per id, too many for a common word)."""
    from rnmail.tickets import search as rnsearch

    parsed = rnsearch.parse_query(query)
    with db.transaction() as session:
        fn = rnsearch._sqlite if db.is_sqlite else rnsearch._postgresql
        return sorted(set(fn(session, parsed, 10**9, 0)))


def checks(db: Any, n: int) -> tuple[list[str], list[str]]:
    """(problems, notes): correctness on the planted tickets."""
    plan = planted_ids(n)
    problems: list[str] = []
    notes: list[str] = []
    expected = sorted(plan["rare"])
    for q in (RARE_WORD, RARE_WORD.upper(), RARE_WORD[:6]):
        got = sorted(search_ids(db, q))
        line = f"{q!r}: {got} (expected {expected})"
        (notes if got == expected else problems).append(line)
    same = {q: sorted(matching_ids(db, q)) for q in
            ("débloquer", "debloquer", "DÉBLOQUER", "Zugangsschlüssel", "zugangsschlussel")}
    for a, b in (("débloquer", "debloquer"), ("débloquer", "DÉBLOQUER"),
                 ("Zugangsschlüssel", "zugangsschlussel")):
        line = f"{a!r} and {b!r}: {len(same[a]):,} and {len(same[b]):,} tickets"
        if same[a] == same[b] and same[a]:
            notes.append(line + ", identical")
        else:
            problems.append(line + ", DIFFERENT or empty")
    for name, ids in plan["names"].items():
        got = sorted(search_ids(db, name))
        plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                        if not unicodedata.combining(c))
        plain = plain.replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("Ø", "O")
        got_plain = sorted(search_ids(db, plain))
        line = (f"name {name!r} planted in {sorted(ids)}: typed as written -> {got}; "
                f"typed {plain!r} -> {got_plain}")
        (notes if got == sorted(ids) else problems).append(line)
    for word, key, where in ((THREAD_WORDS[0], "thread_subject", "subject"),
                             (THREAD_WORDS[1], "thread_body", "body")):
        planted = set(plan[key])
        got = search_ids(db, word)
        line = (f"{word!r} in the {where} of all {THREAD_MESSAGES} messages of {THREADS} "
                f"tickets: limit 50 returned {len(got)} tickets"
                f"{'' if set(got) <= planted else ' (some NOT planted)'} "
                f"(expected 50: {len(matching_ids(db, word))} tickets match)")
        (notes if len(got) == 50 and set(got) <= planted else problems).append(line)
    phone = plan["phone"]
    got = search_ids(db, "clé")
    listed = phone in matching_ids(db, "clé")
    line = (f"info: phone ticket {phone} (no note, subject {PHONE_SUBJECT!r}, the newest "
            f"ticket but one): {'among' if phone in got else 'NOT among'} the 50 results for "
            f"'clé'; in the full match list: {listed}")
    (notes if listed else problems).append(line)
    split = plan["split"]
    got = search_ids(db, " ".join(SPLIT_WORDS))
    one = [search_ids(db, w) for w in SPLIT_WORDS]
    notes.append(f"info: {SPLIT_WORDS[0]!r} (message 1) -> {one[0]}, {SPLIT_WORDS[1]!r} "
                 f"(message 2) -> {one[1]}, both words -> {got} (ticket {split}: words must be "
                 f"in the same message or subject)")
    return problems, notes


# --------------------------------------------------------------------------- explain

def explain(db: Any, kind: str, res: dict[str, Any]) -> dict[str, Any]:
    """Plans of rnmail's id statements exactly as sent (EXPLAIN QUERY PLAN on SQLite,
    EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL), and the time of the bare match."""
    from sqlalchemy import text

    out: dict[str, Any] = {"query": res["query"], "plans": []}
    with db.engine.connect() as conn:
        for statement, params in res["statements"]:
            if kind == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
                plan = "\n".join(f"{r[0]:>3} {r[1]:>3} {r[3]}" for r in rows)
            else:
                rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement,
                                            params).all()
                plan = "\n".join(r[0] for r in rows)
            out["plans"].append((" ".join(statement.split()), plan))
        statement, params = res["statements"][0]
        if kind == "sqlite":
            bare = "SELECT count(*) FROM search_index WHERE search_index MATCH :m"
            bare_params = {"m": params[0]}
        else:
            bare = (f"SELECT count(*) FROM message m WHERE {pg_document(conn)} @@ "
                    f"to_tsquery('simple', :q)")
            bare_params = {"q": params["tsquery"]}
        t0 = time.perf_counter()
        rows_matched = conn.execute(text(bare), bare_params).scalar_one()
        out["bare_ms"] = (time.perf_counter() - t0) * 1000
        out["bare_rows"] = int(rows_matched)
        out["id_query_ms"] = res["id_query_ms"]
    return out


# --------------------------------------------------------------------------- main

def one_database(args: argparse.Namespace, kind: str, work: Path) -> dict[str, Any]:
    from rnmail.db import Database

    with fresh_database(kind, work, args.keep) as url:
        db = Database(url)
        try:
            t0 = time.perf_counter()
            db.upgrade()
            log(f"[{kind}] schema created by Database.upgrade() in "
                f"{time.perf_counter() - t0:.1f}s (revision {db.revision()})")
            filled = fill(db, args.tickets, args.seed, kind)
            log(f"[{kind}] fill: {filled['tickets']:,} tickets, {filled['messages']:,} messages "
                f"(display text {filled['avg_display_chars']:.0f} chars on average) in "
                f"{filled['fill_s']:.1f}s: generate {filled['generate_s']:.1f}s, insert "
                f"{filled['insert_s']:.1f}s"
                + (f"; VACUUM ANALYZE {filled['vacuum_analyze_s']:.1f}s"
                   if "vacuum_analyze_s" in filled else "")
                + f"; sizes {filled['sizes']}; load {filled['load1']:.1f}")
            if args.fill_only:
                return {"db": kind, "fill": filled}
            problems, notes = checks(db, args.tickets)
            for line in notes:
                log(f"[{kind}] check ok: {line}")
            for line in problems:
                log(f"[{kind}] CHECK FAILED: {line}")
            load_before = os.getloadavg()[0]
            queries = run_queries(db, kind, args.repeat, args.budget)
            load_after = os.getloadavg()[0]
            ranked = [r for r in sorted(queries, key=lambda r: -r["median_ms"])
                      if r["statements"]]
            plans = [explain(db, kind, r) for r in ranked[:args.explain]]
        finally:
            db.dispose()
    return {"db": kind, "fill": filled, "problems": problems, "notes": notes,
            "queries": queries, "plans": plans, "load1": (load_before, load_after)}


def overall(queries: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(median, p95) of the per-query medians (every query weighs the same, whatever its
    number of calls), and the slowest single call."""
    medians = [q["median_ms"] for q in queries]
    return (statistics.median(medians), percentile(medians, 0.95),
            max(t for q in queries for t in q["times_ms"]))


def report(res: dict[str, Any], repeat: int) -> None:
    kind, queries = res["db"], res["queries"]
    every = [t for q in queries for t in q["times_ms"]]
    medians = [q["median_ms"] for q in queries]
    log(f"\n=== search benchmark: {kind}, {res['fill']['tickets']:,} tickets, "
        f"{res['fill']['messages']:,} messages; up to {repeat} timed calls per query after a "
        f"warm-up; load {res['load1'][0]:.1f}->{res['load1'][1]:.1f} ===")
    log(f"{'#':>3} {'kind':14} {'query':30} {'returned':>8} {'matching':>9} {'median ms':>10} "
        f"{'min':>8} {'max':>8} {'calls':>5} {'id query':>9} {'tkt load':>8} {'load1':>5}")
    for i, q in enumerate(queries, 1):
        log(f"{i:>3} {q['kind']:14} {q['query']:30} {q['returned']:>8} {q['total']:>9,} "
            f"{q['median_ms']:>10.1f} {q['min_ms']:>8.1f} {q['max_ms']:>8.1f} {q['calls']:>5} "
            f"{q['id_query_ms']:>9.1f} {q['load_ms']:>8.1f} {q['load1']:>5.1f}")
    med, p95, worst = overall(queries)
    log(f"{len(queries)} queries, {len(every)} timed calls: median of the per-query medians "
        f"{med:.1f} ms, p95 {p95:.1f} ms, slowest call {worst:.1f} ms; queries with a median "
        f">= 50 ms: {sum(m >= 50 for m in medians)}/{len(medians)}")
    log(f"target median < 50 ms: {'met' if med < 50 else 'MISSED'} ({med:.1f} ms)")
    for p in res["plans"]:
        log(f"\n--- slow query {p['query']!r}")
        for statement, plan in p["plans"]:
            log(f"{statement}\n{plan}")
        log(f"    bare match (count of the {p['bare_rows']:,} matching index rows, no rank, "
            f"no GROUP BY): {p['bare_ms']:.1f} ms; rnmail's id statements: "
            f"{p['id_query_ms']:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--tickets", type=int, default=200_000,
                    help="how many tickets (default 200000)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="timed calls per query, after one warm-up (default 5)")
    ap.add_argument("--budget", type=float, default=10.0,
                    help="seconds of timed calls per query: a query slower than budget/repeat "
                         "gets fewer calls, at least 1 (default 10)")
    ap.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    ap.add_argument("--explain", type=int, default=2,
                    help="show the plan of the N slowest queries (default 2)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the database (SQLite file / PostgreSQL schema) and print where")
    ap.add_argument("--fill-only", action="store_true",
                    help="create and fill the database, no checks or queries (with --keep: a "
                         "database to explore by hand)")
    ap.add_argument("--json", type=Path, help="also write all results to this JSON file")
    args = ap.parse_args()

    stamp = code_stamp()
    log(f"rnmail under test: {stamp['rnmail_dir']} (source {stamp['source_sha256']}, "
        f"git {stamp['git_head']})")
    import sqlite3

    import sqlalchemy
    log(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, SQLAlchemy "
        f"{sqlalchemy.__version__}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    work = Path(tempfile.mkdtemp(prefix="rnmail-bench-search-"))
    results: dict[str, Any] = {"tickets": args.tickets, "repeat": args.repeat,
                               "seed": args.seed, "code": stamp, "runs": []}
    try:
        for kind in kinds:
            results["runs"].append(one_database(args, kind, work))
    finally:
        if args.keep and "sqlite" in kinds:
            log(f"--keep: SQLite database left at {work / 'search.db'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.fill_only:
        return
    for res in results["runs"]:
        report(res, args.repeat)
    log("")
    for res in results["runs"]:
        med, p95, worst = overall(res["queries"])
        f = res["fill"]
        log(f"{res['db']:>10}: fill {f['fill_s']:.0f}s (insert {f['insert_s']:.0f}s); search "
            f"median {med:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms -> target < 50 ms "
            f"{'met' if med < 50 else 'MISSED'}; checks "
            f"{'ok' if not res['problems'] else 'FAILED: ' + '; '.join(res['problems'])}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False))
    if any(res["problems"] for res in results["runs"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
