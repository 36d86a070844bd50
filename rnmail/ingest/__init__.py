"""Mail in: each received message goes fetch → parse → classify (bounce / auto-reply /
staff / requester) → thread → store → respond.

``runner`` runs a pass over the mailboxes (``fetch``: IMAP or Maildir), one transaction per
batch; ``pipeline`` holds the ordered stages and is the only catcher of their errors; the
stages are ``parse``, ``classify``, ``bounce``, ``staff`` (staff and second-line replies),
``thread``, ``store`` and ``respond`` (acknowledgement, staff notifications); ``fax`` reads
the fax gateway's mails; ``quarantine`` lists and retries what could not be processed.
"""
