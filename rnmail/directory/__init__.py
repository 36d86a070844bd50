"""Who has access to the register, and the address lists announcements go to: ``people``
(organisations and users, access states), ``import_export`` (the directory as a CSV file),
``sheets`` (the one CSV sheet reader), ``groups`` (user groups from CSV lists),
``query_groups`` (groups defined by a directory query) and ``unblock`` (the access-unblocking
procedure)."""
