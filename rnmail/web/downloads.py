"""Attachments as HTTP downloads: the response the desk sends for a file of a message.

The file is never a page of the desk's origin: ``Content-Disposition: attachment``, a type a
browser does not render as a document (``tickets.display.served_type``), ``nosniff`` and a
sandboxing ``Content-Security-Policy`` in case a browser shows it anyway. The headers are
``tickets.display.Download.headers``; this module only makes the aiohttp response. Who may
download what (a signed-in staff member, the ticket in the URL) is the route's business.
"""

from __future__ import annotations

from aiohttp import web

from rnmail.tickets.display import Download


def attachment_response(download: Download) -> web.Response:
    """The response for ``download``, with every header it must carry."""
    return web.Response(body=download.data, headers=download.headers())
