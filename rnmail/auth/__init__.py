"""Who may act: ``operators`` (argon2id passwords, lockout, second factor) and ``sessions``
(the web administration's server-side sessions)."""
