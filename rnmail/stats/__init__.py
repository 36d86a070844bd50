"""The help desk's figures: ``figures`` (contacts, answers and times as SQL aggregates),
``hours`` (Brussels local time and business time as SQL), ``charts`` (matplotlib), ``words``
(labels and numbers per language), ``text`` (a table as ``rnmail stats`` prints it) and
``report`` (the management report)."""
