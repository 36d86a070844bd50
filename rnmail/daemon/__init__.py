"""``rnmail run``: ``loop`` (pollers, sender, periodic jobs, signals), ``scheduler`` (the
APScheduler job store all processes share), ``housekeeping`` and ``metrics``."""
