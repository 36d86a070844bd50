"""The desk (``DeskSite``): its sign-in (``rnmail.web.desk.base``) and its page groups, one
module each — the queue, the ticket page, the FAQ, the figures."""

from __future__ import annotations

from rnmail.web.desk.faq import FaqPages
from rnmail.web.desk.figures import FigurePages
from rnmail.web.desk.queue import QueuePages
from rnmail.web.desk.ticket import TicketPages


class DeskSite(FigurePages, FaqPages, TicketPages, QueuePages):
    """``/desk``: every page group (each adds its routes and calls the next)."""
