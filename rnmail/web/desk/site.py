"""The desk (``DeskSite``): its sign-in (``rnmail.web.desk.base``) and its page groups, one
module each — the queue, the ticket page, the ticket's actions and its merge and split, the
legal hold, the call form, the search, the directory, the FAQ, the figures, the spam, the
privacy page."""

from __future__ import annotations

from rnmail.web.desk.actions import TicketActions
from rnmail.web.desk.calls import CallPages
from rnmail.web.desk.directory import DirectoryPages
from rnmail.web.desk.faq import FaqPages
from rnmail.web.desk.figures import FigurePages
from rnmail.web.desk.hold import HoldActions
from rnmail.web.desk.merging import TicketMerging
from rnmail.web.desk.privacy import PrivacyPages
from rnmail.web.desk.queue import QueuePages
from rnmail.web.desk.search import SearchPages
from rnmail.web.desk.spam import SpamPages
from rnmail.web.desk.ticket import TicketPages


class DeskSite(PrivacyPages, SpamPages, CallPages, DirectoryPages, SearchPages, FaqPages,
               FigurePages, HoldActions, TicketMerging, TicketActions, TicketPages, QueuePages):
    """``/desk``: every page group (each adds its routes and calls the next)."""
