"""The client's address for login limits, trusting ``X-Forwarded-For`` only from configured proxies.

Without configuration the address is the TCP peer (``REMOTE_ADDR``) and ``X-Forwarded-For`` is
ignored: anyone can write that header. Behind a reverse proxy every request comes from the proxy, so
the operator says which proxies to trust (settings from the environment, see ``config/settings``):

- ``GLOCAL_TRUSTED_PROXY_COUNT = n``: the last *n* hops are our proxies; each one appends the address
  it received the request from, so the client is the *n*-th entry from the right of
  ``X-Forwarded-For`` + the peer. Entries further left were written by the client and are ignored.
- ``GLOCAL_TRUSTED_PROXIES = [addresses or networks]``: the header is read only when the peer is one of
  them; walking from the right, trusted proxies are skipped and the first other address is the client.

A missing, short or malformed header gives the peer's address, never a value from the header.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """django-axes' ``AXES_CLIENT_IP_CALLABLE``."""
    peer = request.META.get("REMOTE_ADDR")
    count = int(getattr(settings, "GLOCAL_TRUSTED_PROXY_COUNT", 0) or 0)
    trusted = _networks(tuple(getattr(settings, "GLOCAL_TRUSTED_PROXIES", ()) or ()))
    if not peer or (count <= 0 and not trusted):
        return peer
    forwarded = [
        hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()
    ]
    hops = [*forwarded, peer]
    if trusted:
        peer_address = _parse(peer)
        if peer_address is None or not any(peer_address in net for net in trusted):
            return peer
        for hop in reversed(forwarded):
            address = _parse(hop)
            if address is None:
                return peer
            if not any(address in net for net in trusted):
                return str(address)
        return peer
    if len(hops) <= count:
        return peer
    address = _parse(hops[-(count + 1)])
    return str(address) if address is not None else peer
