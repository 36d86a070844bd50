"""The help desk's own desk (``/desk/``): the agents' pages in the browser, on the
internal listener that also serves ``/admin`` (``[web].admin_bind``), never on the public
one. ``base`` signs staff members in and holds what the pages share; each page group is a
module of its own (``queue``, ``ticket`` …); ``site`` puts them together.
"""

from rnmail.web.desk.site import DeskSite

__all__ = ["DeskSite"]
