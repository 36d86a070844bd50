"""The register's system status: ``components`` (positions and incidents; maintenance derived
from the times), ``notices`` (``status set`` and what it mails), ``maintenance`` (planned
maintenance, its notices and steps) and ``page`` (the public trilingual status page, its JSON
and its feed)."""
