"""The help desk's figures: ``figures`` (contacts and times as SQL aggregates), ``hours``
(Brussels local time and business time as SQL), ``charts`` (matplotlib), ``words`` (labels
and numbers per language) and ``report`` (the management report)."""
