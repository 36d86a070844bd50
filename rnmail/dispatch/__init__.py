"""Mail out: compose → outbox → send → track.

``answer`` (answers, delegations, phone messages) and ``announce`` (notices and mailings to
user groups, their variables per language in ``variables``, shown first by ``preview``)
decide what to write; ``render`` fills the per-language templates, ``compose``
builds the MIME message, ``outbox`` queues it durably, ``send`` delivers it over SMTP with
retries and one shared rate; ``suppression`` leaves addresses that keep bouncing out of
announcements.
"""
