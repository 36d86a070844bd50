"""The desk (``DeskSite``): its sign-in (``rnmail.web.desk.base``) and its page groups, one
module each — the queue, the ticket page and the ticket's actions, the call form, the
search, the directory, the FAQ, the figures, the legal hold, the privacy page."""

from __future__ import annotations

from rnmail.web.desk.actions import TicketActions
from rnmail.web.desk.calls import CallPages
from rnmail.web.desk.directory import DirectoryPages
from rnmail.web.desk.faq import FaqPages
from rnmail.web.desk.figures import FigurePages
from rnmail.web.desk.hold import HoldActions
from rnmail.web.desk.privacy import PrivacyPages
from rnmail.web.desk.queue import QueuePages
from rnmail.web.desk.search import SearchPages
from rnmail.web.desk.ticket import TicketPages


class DeskSite(PrivacyPages, CallPages, DirectoryPages, SearchPages, FaqPages, FigurePages,
               HoldActions, TicketActions, TicketPages, QueuePages):
    """``/desk``: every page group (each adds its routes and calls the next)."""
