"""Personal data: storage limitation and the rights of the people it is about (GDPR).

``anonymise`` removes one ticket's personal data and keeps what the statistics count;
``retention`` applies the ``[privacy]`` periods (the daemon daily, ``rnmail privacy purge``
by hand); ``hold`` puts a ticket on legal hold, which exempts it from every purge.
A person's rights: ``person`` finds everything rnmail holds about someone (by address
and/or number), ``export`` writes it as files they can read (Art. 15), ``erase``
anonymises them everywhere through ``anonymise`` (Art. 17).
"""
