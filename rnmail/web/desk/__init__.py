"""The help desk's own desk (``/desk/``): the agents' pages in the browser, on the
internal listener that also serves ``/admin`` (``[web].admin_bind``), never on the public
one. ``site`` signs staff members in and routes the pages; ``pages`` reads what they show.
"""

from rnmail.web.desk.site import DeskSite

__all__ = ["DeskSite"]
