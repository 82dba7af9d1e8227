"""SSRF guard: never connect to private, loopback, link-local, multicast or reserved addresses.

URLs in web crawls are attacker-controlled. Before any connection (and again at every redirect hop)
the host is resolved here and every address is checked; only the addresses that passed are handed
to aiohttp (:class:`PinnedResolver`), so the socket goes to an address that was checked: there is no
window for DNS rebinding between the check and the connect. IPv4-mapped, 6to4 and NAT64 IPv6
addresses are judged by the IPv4 address they carry. An explicit allow-list is the only way through
(tests reach the loopback image server with ``allow_networks=("127.0.0.1/32",)``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class SSRFBlocked(OSError):
    """The host resolves only to addresses the guard refuses (an OSError so aiohttp passes it through)."""

    def __init__(self, host: str, address: str, reason: str):
        super().__init__(f"{host} resolves to {address} ({reason}); refused by the SSRF guard")
        self.host, self.address, self.reason = host, address, reason


class HostNotFound(OSError):
    """DNS found no address for the host."""


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress | str) -> str | None:
    """Why ``ip`` must not be contacted (``"loopback"``, ``"private"``, ...), or ``None`` if it is public."""
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip.split("%", 1)[0])
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = blocked_reason(inner)
        return reason and f"{reason} (embedded in {ip})"
    checks = (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
              ("link_local", ip.is_link_local), ("multicast", ip.is_multicast),
              ("private", ip.is_private), ("reserved", ip.is_reserved),
              ("site_local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local))
    for name, hit in checks:
        if hit:
            return name
    if not ip.is_global:
        return "not_global"
    return None


def parse_networks(specs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(s, strict=False) for s in specs)


class AddressGuard:
    """Resolves hosts, refuses forbidden addresses and remembers (pins) the checked ones for a while.

    ``enabled=False`` still resolves and pins (so static hosts work) but refuses nothing.
    """

    def __init__(self, enabled: bool = True, allow_networks: Iterable[str] = (),
                 static_hosts: Mapping[str, list[str]] | None = None, ttl: float = 300.0,
                 timeout: float = 10.0):
        self.enabled = enabled
        self.allow = parse_networks(allow_networks)
        self.static_hosts = {h.lower(): list(a) for h, a in (static_hosts or {}).items()}
        self.ttl = ttl
        self.timeout = timeout
        self._pinned: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self.lookups = 0  # DNS / static lookups done (for tests)
        self.max_hosts = 100_000

    def allowed(self, ip: IPAddress | str) -> tuple[bool, str | None]:
        """(ok, reason) for one address under this guard's policy."""
        if isinstance(ip, str):
            ip = ipaddress.ip_address(ip.split("%", 1)[0])
        if not self.enabled or any(ip in net for net in self.allow if net.version == ip.version):
            return True, None
        inner = embedded_ipv4(ip)
        if inner is not None and any(inner in net for net in self.allow if net.version == 4):
            return True, None
        reason = blocked_reason(ip)
        return reason is None, reason

    async def _lookup(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        if host in self.static_hosts:
            return list(self.static_hosts[host])
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise HostNotFound(f"cannot resolve {host!r}: {e}") from e
        except TimeoutError as e:
            raise HostNotFound(f"resolving {host!r} took more than {self.timeout}s") from e
        addrs = []
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addrs:
                addrs.append(sockaddr[0])
        return addrs

    async def check(self, host: str, port: int) -> list[str]:
        """Addresses of ``host`` that may be contacted; raises :class:`SSRFBlocked` or :class:`HostNotFound`."""
        host = host.lower().strip("[]").rstrip(".")
        key = (host, port)
        hit = self._pinned.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        addrs = await self._lookup(host, port)
        if not addrs:
            raise HostNotFound(f"no address for {host!r}")
        good, first_bad = [], None
        for a in addrs:
            try:
                ok, reason = self.allowed(a)
            except ValueError:
                ok, reason = False, "unparsable"
            if ok:
                good.append(a)
            elif first_bad is None:
                first_bad = (a, reason)
        if not good:
            raise SSRFBlocked(host, *first_bad)
        if len(self._pinned) >= self.max_hosts:  # bound memory on huge runs: drop the oldest pin
            del self._pinned[next(iter(self._pinned))]
        self._pinned[key] = (time.monotonic() + self.ttl, good)
        return good


class PinnedResolver(AbstractResolver):
    """aiohttp resolver that only ever returns addresses :class:`AddressGuard` accepted."""

    def __init__(self, guard: AddressGuard):
        self.guard = guard

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        addrs = await self.guard.check(host, port)
        out: list[ResolveResult] = []
        for a in addrs:
            fam = socket.AF_INET6 if ":" in a else socket.AF_INET
            if family not in (0, socket.AF_UNSPEC, fam):
                continue
            out.append({"hostname": host, "host": a, "port": port, "family": fam, "proto": 0,
                        "flags": socket.AI_NUMERICHOST})
        if not out:
            raise HostNotFound(f"no {family!r} address for {host!r}")
        return out

    async def close(self) -> None:
        return None
