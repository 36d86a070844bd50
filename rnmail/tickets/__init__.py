"""The help desk's tickets: ``lifecycle`` (status, resolution, reopening, tickets made by
hand), ``views`` (what ``ticket list/show`` print), ``search``, ``archive`` (export and the
archive of closed tickets), ``faq`` and ``team`` (staff and second-line services)."""
