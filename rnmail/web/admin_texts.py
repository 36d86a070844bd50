"""The words of the status administration in French and Dutch (English is the key).

The team works in both languages; each operator picks theirs with the switch on every page
(else ``Accept-Language`` decides). A text missing here shows in English — messages that come
from the core (a refused group, a start in the past) are the command line's English lines.
"""

from __future__ import annotations

from collections.abc import Callable

ADMIN_LANGUAGES = (("fr", "Français"), ("nl", "Nederlands"), ("en", "English"))

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "Status administration": "Administration du statut",
        "status administration": "administration du statut",
        "Status": "Statut",
        "Audit log": "Journal d'audit",
        "Signed in as {name}": "Connecté : {name}",
        "Sign out": "Se déconnecter",
        "Refused": "Refusé",
        "Not done": "Rien n'a été fait",
        "Back to the status administration": "Retour à l'administration du statut",
        "Sign in": "Se connecter",
        "Operator": "Opérateur",
        "Password": "Mot de passe",
        "Code from your authenticator app (the key)":
            "Code de votre application d'authentification (la clé)",
        "No code? An administrator sets up your key with":
            "Pas de code ? Un administrateur configure votre clé avec",
        "Failed attempts are logged; too many lock the name and the address for a while.":
            "Les tentatives échouées sont journalisées ; trop d'échecs bloquent le nom et "
            "l'adresse pendant un temps.",
        "Current status:": "Statut actuel :",
        "Component": "Composant",
        "Components": "Composants",
        "Position": "Position",
        "Comment": "Commentaire",
        "Last change (Brussels)": "Dernière modification (Bruxelles)",
        "maintenance": "maintenance",
        "Groups to notify by mail (none: the page only)":
            "Groupes à avertir par courriel (aucun : la page seulement)",
        "recipient": "destinataire",
        "recipients": "destinataires",
        "No user group yet": "Pas encore de groupe d'utilisateurs",
        "Components (none ticked: all)": "Composants (aucun coché : tous)",
        "Comment, per language (at most 500 characters each)":
            "Commentaire, par langue (500 caractères au plus chacun)",
        "Change the position": "Changer la position",
        "When this ends the incident, tell the requesters whose tickets arrived during it":
            "Si l'incident se termine ainsi, prévenir les demandeurs dont les tickets sont "
            "arrivés pendant l'incident",
        "Preview…": "Aperçu…",
        "Announcements": "Annonces",
        "Kind": "Type",
        "Groups": "Groupes",
        "By": "Par",
        "Queued (UTC)": "Mise en file (UTC)",
        "Sent": "Envoyés",
        "Failed": "Échecs",
        "Waiting": "En attente",
        "None yet.": "Aucune pour l'instant.",
        "Planned maintenance": "Maintenance planifiée",
        "State": "État",
        "From (UTC)": "De (UTC)",
        "To (UTC)": "À (UTC)",
        "Cancel and tell the groups": "Annuler et prévenir les groupes",
        "None planned.": "Aucune maintenance planifiée.",
        "Schedule a maintenance": "Planifier une maintenance",
        "Start (Brussels time)": "Début (heure de Bruxelles)",
        "Expected duration": "Durée prévue",
        "Reminder before the start (optional)": "Rappel avant le début (facultatif)",
        "Confirm": "Confirmer",
        "New position": "Nouvelle position",
        "Maintenance": "Maintenance",
        "Brussels time": "heure de Bruxelles",
        "Mail": "Courriel",
        "in": "dans",
        "suppressed addresses left out:": "adresses supprimées non servies :",
        "nobody: the public page only": "personne : la page publique seulement",
        "Requesters": "Demandeurs",
        "told when the incident ends": "prévenus à la fin de l'incident",
        "Confirm and send to {count}": "Confirmer et envoyer à {count}",
        "Back": "Retour",
        "Announcement": "Annonce",
        "{done} of {total} delivered or ended": "{done} sur {total} remis ou terminés",
        "this page refreshes itself": "cette page se met à jour d'elle-même",
        "finished": "terminé",
        "Back to the status": "Retour au statut",
        "Action": "Action",
        "Who": "Qui",
        "Filter": "Filtrer",
        "When (Brussels)": "Quand (Bruxelles)",
        "From": "Depuis",
        "Recipients": "Destinataires",
        "Detail": "Détail",
        "command line": "ligne de commande",
        "refused": "refusé",
        "Nothing recorded.": "Rien d'enregistré.",
        "operational": "opérationnel",
        "degraded": "perturbé",
        "down": "hors service",
        "queued": "en file",
        "sending": "en cours d'envoi",
        "sent": "envoyé",
        "failed": "échec",
        "bounced": "rejeté",
        "suppressed": "supprimé",
        "The status is set and the public page published.":
            "Le statut est modifié et la page publique publiée.",
        "The maintenance is scheduled.": "La maintenance est planifiée.",
        "The maintenance is cancelled.": "La maintenance est annulée.",
        "The database cannot be reached: nothing was changed. The public status page keeps "
        "showing the last published status. Try again in a moment.":
            "La base de données est injoignable : rien n'a été modifié. La page publique "
            "continue d'afficher le dernier statut publié. Réessayez dans un instant.",
        "Something went wrong in rnmail (see its log). Check the status and the audit log "
        "before trying again.":
            "Une erreur s'est produite dans rnmail (voir son journal). Vérifiez le statut et "
            "le journal d'audit avant de réessayer.",
        "This form is missing its CSRF token or it does not match your session: nothing was "
        "changed. Reload the page and try again.":
            "Ce formulaire n'a pas de jeton CSRF ou il ne correspond pas à votre session : "
            "rien n'a été modifié. Rechargez la page et réessayez.",
        "The sign-in form is missing its CSRF token or has expired: open the sign-in page "
        "again.":
            "Le formulaire de connexion n'a pas de jeton CSRF ou a expiré : rouvrez la page "
            "de connexion.",
        "The form could not be read: nothing was changed.":
            "Le formulaire n'a pas pu être lu : rien n'a été modifié.",
        "This form was sent from another site: refused.":
            "Ce formulaire a été envoyé depuis un autre site : refusé.",
        "A value of this request cannot be used: nothing was changed.":
            "Une valeur de cette requête n'est pas utilisable : rien n'a été modifié.",
        "There is no such item.": "Cet élément n'existe pas.",
    },
    "nl": {
        "Status administration": "Statusbeheer",
        "status administration": "statusbeheer",
        "Status": "Status",
        "Audit log": "Auditlogboek",
        "Signed in as {name}": "Aangemeld als {name}",
        "Sign out": "Afmelden",
        "Refused": "Geweigerd",
        "Not done": "Niet uitgevoerd",
        "Back to the status administration": "Terug naar het statusbeheer",
        "Sign in": "Aanmelden",
        "Operator": "Operator",
        "Password": "Wachtwoord",
        "Code from your authenticator app (the key)":
            "Code uit uw authenticatie-app (de sleutel)",
        "No code? An administrator sets up your key with":
            "Geen code? Een beheerder stelt uw sleutel in met",
        "Failed attempts are logged; too many lock the name and the address for a while.":
            "Mislukte pogingen worden gelogd; te veel ervan blokkeren de naam en het adres "
            "een tijdlang.",
        "Current status:": "Huidige status:",
        "Component": "Onderdeel",
        "Components": "Onderdelen",
        "Position": "Positie",
        "Comment": "Opmerking",
        "Last change (Brussels)": "Laatste wijziging (Brussel)",
        "maintenance": "onderhoud",
        "Groups to notify by mail (none: the page only)":
            "Groepen die per e-mail verwittigd worden (geen: alleen de pagina)",
        "recipient": "ontvanger",
        "recipients": "ontvangers",
        "No user group yet": "Nog geen gebruikersgroep",
        "Components (none ticked: all)": "Onderdelen (niets aangevinkt: alle)",
        "Comment, per language (at most 500 characters each)":
            "Opmerking, per taal (elk hoogstens 500 tekens)",
        "Change the position": "Positie wijzigen",
        "When this ends the incident, tell the requesters whose tickets arrived during it":
            "Als dit het incident beëindigt, de aanvragers verwittigen van wie de tickets "
            "tijdens het incident binnenkwamen",
        "Preview…": "Voorbeeld…",
        "Announcements": "Aankondigingen",
        "Kind": "Soort",
        "Groups": "Groepen",
        "By": "Door",
        "Queued (UTC)": "In de wachtrij (UTC)",
        "Sent": "Verzonden",
        "Failed": "Mislukt",
        "Waiting": "Wachtend",
        "None yet.": "Nog geen.",
        "Planned maintenance": "Gepland onderhoud",
        "State": "Toestand",
        "From (UTC)": "Van (UTC)",
        "To (UTC)": "Tot (UTC)",
        "Cancel and tell the groups": "Annuleren en de groepen verwittigen",
        "None planned.": "Geen gepland onderhoud.",
        "Schedule a maintenance": "Onderhoud plannen",
        "Start (Brussels time)": "Begin (Brusselse tijd)",
        "Expected duration": "Verwachte duur",
        "Reminder before the start (optional)": "Herinnering vóór het begin (optioneel)",
        "Confirm": "Bevestigen",
        "New position": "Nieuwe positie",
        "Maintenance": "Onderhoud",
        "Brussels time": "Brusselse tijd",
        "Mail": "E-mail",
        "in": "in",
        "suppressed addresses left out:": "uitgesloten adressen overgeslagen:",
        "nobody: the public page only": "niemand: alleen de publieke pagina",
        "Requesters": "Aanvragers",
        "told when the incident ends": "verwittigd wanneer het incident eindigt",
        "Confirm and send to {count}": "Bevestigen en verzenden naar {count}",
        "Back": "Terug",
        "Announcement": "Aankondiging",
        "{done} of {total} delivered or ended": "{done} van {total} afgeleverd of beëindigd",
        "this page refreshes itself": "deze pagina vernieuwt zichzelf",
        "finished": "klaar",
        "Back to the status": "Terug naar de status",
        "Action": "Actie",
        "Who": "Wie",
        "Filter": "Filteren",
        "When (Brussels)": "Wanneer (Brussel)",
        "From": "Vanaf",
        "Recipients": "Ontvangers",
        "Detail": "Details",
        "command line": "opdrachtregel",
        "refused": "geweigerd",
        "Nothing recorded.": "Niets geregistreerd.",
        "operational": "operationeel",
        "degraded": "verstoord",
        "down": "buiten dienst",
        "queued": "in de wachtrij",
        "sending": "wordt verzonden",
        "sent": "verzonden",
        "failed": "mislukt",
        "bounced": "teruggestuurd",
        "suppressed": "uitgesloten",
        "The status is set and the public page published.":
            "De status is ingesteld en de publieke pagina gepubliceerd.",
        "The maintenance is scheduled.": "Het onderhoud is gepland.",
        "The maintenance is cancelled.": "Het onderhoud is geannuleerd.",
        "The database cannot be reached: nothing was changed. The public status page keeps "
        "showing the last published status. Try again in a moment.":
            "De databank is niet bereikbaar: er werd niets gewijzigd. De publieke "
            "statuspagina toont de laatst gepubliceerde status. Probeer het zo meteen "
            "opnieuw.",
        "Something went wrong in rnmail (see its log). Check the status and the audit log "
        "before trying again.":
            "Er ging iets mis in rnmail (zie het logboek). Controleer de status en het "
            "auditlogboek voor u het opnieuw probeert.",
        "This form is missing its CSRF token or it does not match your session: nothing was "
        "changed. Reload the page and try again.":
            "Dit formulier heeft geen CSRF-token of het past niet bij uw sessie: er werd "
            "niets gewijzigd. Laad de pagina opnieuw en probeer het nog eens.",
        "The sign-in form is missing its CSRF token or has expired: open the sign-in page "
        "again.":
            "Het aanmeldformulier heeft geen CSRF-token of is verlopen: open de "
            "aanmeldpagina opnieuw.",
        "The form could not be read: nothing was changed.":
            "Het formulier kon niet gelezen worden: er werd niets gewijzigd.",
        "This form was sent from another site: refused.":
            "Dit formulier werd vanaf een andere site verzonden: geweigerd.",
        "A value of this request cannot be used: nothing was changed.":
            "Een waarde van dit verzoek is onbruikbaar: er werd niets gewijzigd.",
        "There is no such item.": "Dit item bestaat niet.",
    },
}


def translator(language: str) -> Callable[[str], str]:
    """``_`` for the pages: the text in ``language``, else as written (English)."""
    texts = TEXTS.get(language, {})
    return lambda text: texts.get(text, text)
