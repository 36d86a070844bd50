"""The text modules shipped as examples, in French, Dutch and German: loaded by
``rnmail text load-examples`` (never over a module the help desk already has), then the help
desk's own to edit or remove."""

from __future__ import annotations

EXAMPLES: dict[str, dict[str, str]] = {
    "greeting": {
        "fr": "Bonjour {{ requester.name }},\n\nNous avons bien reçu votre demande "
              "(ticket {{ ticket.id }}).",
        "nl": "Goedendag {{ requester.name }},\n\nWij hebben uw vraag goed ontvangen "
              "(ticket {{ ticket.id }}).",
        "de": "Guten Tag {{ requester.name }},\n\nwir haben Ihre Anfrage erhalten "
              "(Ticket {{ ticket.id }}).",
    },
    "closing": {
        "fr": "Nous restons à votre disposition pour toute question.\n\n"
              "Bien cordialement,\n{{ agent.name }}\nHelpdesk du Registre national",
        "nl": "Wij blijven ter beschikking voor verdere vragen.\n\n"
              "Met vriendelijke groeten,\n{{ agent.name }}\nHelpdesk van het Rijksregister",
        "de": "Für weitere Fragen stehen wir Ihnen gerne zur Verfügung.\n\n"
              "Mit freundlichen Grüßen\n{{ agent.name }}\nHelpdesk des Nationalregisters",
    },
    "key-unblocked": {
        "fr": "L'accès de {{ organisation.name }} a été débloqué ce {{ today }} : "
              "vous pouvez à nouveau vous connecter avec votre clé.",
        "nl": "De toegang van {{ organisation.name }} is op {{ today }} gedeblokkeerd: "
              "u kunt opnieuw aanmelden met uw sleutel.",
        "de": "Der Zugang von {{ organisation.name }} wurde am {{ today }} entsperrt: "
              "Sie können sich wieder mit Ihrem Schlüssel anmelden.",
    },
    "identity-card": {
        "fr": "Afin de traiter votre demande, pourriez-vous nous envoyer une copie "
              "(recto verso) de votre carte d'identité, en mentionnant le numéro de ticket "
              "{{ ticket.id }} ?",
        "nl": "Om uw vraag te behandelen, kunt u ons een kopie (voor- en achterkant) van "
              "uw identiteitskaart bezorgen, met vermelding van ticketnummer "
              "{{ ticket.id }}?",
        "de": "Um Ihre Anfrage zu bearbeiten, senden Sie uns bitte eine Kopie (Vorder- und "
              "Rückseite) Ihres Personalausweises unter Angabe der Ticketnummer "
              "{{ ticket.id }}.",
    },
    "population-service": {
        "fr": "Votre demande concerne le registre de la population de votre commune : nous "
              "l'avons transmise ce {{ today }} au service population, qui vous répondra "
              "directement.",
        "nl": "Uw vraag betreft het bevolkingsregister van uw gemeente: wij hebben ze op "
              "{{ today }} doorgestuurd naar de dienst bevolking, die u rechtstreeks zal "
              "antwoorden.",
        "de": "Ihre Anfrage betrifft das Bevölkerungsregister Ihrer Gemeinde: Wir haben sie "
              "am {{ today }} an den Bevölkerungsdienst weitergeleitet, der Ihnen direkt "
              "antworten wird.",
    },
}
