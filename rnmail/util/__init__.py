"""Small helpers without a feature of their own: ``addresses``, ``blobs``, ``folding``,
``language``, ``logs``, ``phone``, ``publicfiles`` and ``tokens``."""
