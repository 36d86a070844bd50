"""Personal data (GDPR): a person's rights of access and erasure.

``person`` finds everything rnmail holds about a person (by address and/or number),
``export`` writes it as files they can read (Art. 15), ``erase`` anonymises them everywhere
(Art. 17) through the retention's anonymisation of a ticket (``anonymise``).
"""
