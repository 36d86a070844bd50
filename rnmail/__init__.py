"""rnmail: the mail, ticketing and status daemon of the National Register's help desk.

The map (docs/architecture.md tells the two flows in full):

- ``ingest/``     mail in: fetch → parse → classify → bounce → staff → thread → store → respond
                  (``pipeline.py`` holds the stages, ``runner.py`` the pass), quarantine
- ``dispatch/``   mail out: answer → render → compose → outbox → send; announcements to user
                  groups, suppression of bouncing addresses
- ``tickets/``    life cycle, views, search, archive, FAQ, the team (staff and services)
- ``directory/``  organisations and their users, CSV sheets, user groups, access unblocking
- ``status/``     components and incidents, the public page, notices, planned maintenance
- ``stats/``      figures, business hours, charts and the management report
- ``privacy/``    personal data: retention, legal hold, a person's export and erasure
- ``auth/``       operators: passwords, second factor, web sessions
- ``web/``        the public site, the status administration, their listeners
- ``daemon/``     ``rnmail run``: the loop, the scheduler glue, housekeeping, metrics
- ``ops/``        doctor, demo, backup
- ``commandserver/`` the warm process that runs the CLI's commands for ``rnmail run``
- ``i18n/``       the words users read (not mail bodies): gettext catalogues, CLDR formats
- ``util/``       small helpers: addresses, blobs, folding, language, phone, tokens, files, logs
- ``templates/``  ``mail/`` (one per kind and language), ``mailings/``, ``pages/``, ``admin/``
- at the top: ``config/`` (the TOML file, each key declared once), ``db`` (engine,
  sessions, the transaction boundary), ``models``, ``migrations/``, ``errors``, ``audit``,
  ``vocab`` (the closed sets of values as StrEnums), ``shapes`` (the ``--json`` outputs)

The click commands live in the top-level ``cli`` package, one module per command group.
"""
