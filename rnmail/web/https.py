"""Secure cookies and plain HTTP: say so instead of failing with a misleading message.

The admin's cookies (the sign-in form's token, the session) carry ``Secure`` unless
``[web].secure_cookies = false``. A browser keeps such a cookie only from an HTTPS page or
from this machine's loopback address (``http://127.0.0.1``, ``http://localhost``): over
plain HTTP from another machine it drops it silently, and the sign-in that follows would
look like an expired form. So ``rnmail web`` and the daemon say at start that the admin
needs HTTPS in front (``startup_note``), and the sign-in page says it when a request came
over plain HTTP to a name that is not loopback (``cookies_dropped``).

HTTPS is the connection's own TLS or, from one of ``[web].trusted_proxies``, an
``X-Forwarded-Proto: https`` (the last value, the one the nearest proxy set).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address

from aiohttp import web

from rnmail.config import WebConfig, parse_bind


def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost`` or a loopback address (with or without brackets)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def came_over_https(request: web.Request, trusted_proxy: bool) -> bool:
    """The browser's request was encrypted: TLS here, or a trusted proxy says so."""
    if request.secure:
        return True
    if not trusted_proxy:
        return False
    values = [v.strip().lower() for header in request.headers.getall("X-Forwarded-Proto", [])
              for v in header.split(",")]
    return bool(values) and values[-1] == "https"


def cookies_dropped(request: web.Request, web_config: WebConfig, trusted_proxy: bool) -> bool:
    """Whether the browser will have dropped the admin's Secure cookies: they are Secure,
    and the request came over plain HTTP to a host name that is not loopback."""
    if not web_config.secure_cookies or came_over_https(request, trusted_proxy):
        return False
    return not is_loopback(request.url.host or request.host.rpartition(":")[0])


@dataclass(frozen=True)
class Note:
    text: str
    warning: bool  # the admin listens on an address other machines reach


def startup_note(web_config: WebConfig, admin_bind: str) -> Note | None:
    """What to say when the admin starts listening on ``admin_bind`` with Secure cookies."""
    if not web_config.secure_cookies:
        return None
    host, _port = parse_bind(admin_bind, "[web].admin_bind")
    if is_loopback(host):
        return Note("the admin's cookies are Secure: from another machine, browsers send them "
                    "over HTTPS only, so put an HTTPS reverse proxy in front "
                    "([web].trusted_proxies); on this machine http://127.0.0.1 works as it is",
                    warning=False)
    return Note(f"the admin listens on {admin_bind} with Secure cookies: over plain HTTP "
                "from another machine the browser drops them and every sign-in fails; "
                "put an HTTPS reverse proxy in front ([web].trusted_proxies), or set "
                "[web].secure_cookies = false for a plain-HTTP test", warning=True)
