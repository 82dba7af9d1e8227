"""SSRF guard: never connect to private, loopback, link-local, multicast or reserved addresses.

URLs in web crawls are attacker-controlled. Before any connection (and again at every redirect hop)
the host is resolved here and every address is checked; only the addresses that passed are handed
to aiohttp (:class:`PinnedResolver`), so the socket goes to an address that was checked: there is no
window for DNS rebinding between the check and the connect. IPv4-mapped, 6to4 and NAT64 IPv6
addresses are judged by the IPv4 address they carry. An explicit allow-list is the only way through:
entries are a network and, optionally, the ports it may be reached on (:func:`parse_allow_rule`):
``"127.0.0.1/32:8080"``, ``"10.0.0.0/8:80,443"``, ``"[::1]/128:8000-8099"``. An entry without a port
admits every port of its network (what configs written before ports meant); pin the port whenever
you know it, so an allowed host's other services stay out of reach.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


_BRACKETED = re.compile(r"\[(?P<net>[^\]]+)\](?P<len>/\d+)?(?::(?P<ports>.+))?")


@dataclass(frozen=True)
class AllowRule:
    """One allow-list entry: addresses of ``network``, on ``ports`` (``None``: every port)."""

    network: IPNetwork
    ports: frozenset[int] | None = None

    def admits(self, ip: IPAddress, port: int | None) -> bool:
        return ip.version == self.network.version and ip in self.network and (
            self.ports is None or port in self.ports)


def _parse_ports(text: str) -> frozenset[int]:
    ports: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        first, last = int(lo), int(hi or lo)
        if not 0 < first <= last <= 65535:
            raise ValueError(f"bad port range {part.strip()!r}")
        ports.update(range(first, last + 1))
    return frozenset(ports)


def parse_allow_rule(spec: str) -> AllowRule:
    """``NETWORK`` (every port), ``IPV4NETWORK:PORTS`` or ``[IPV6NETWORK]:PORTS``, where PORTS is ``80``,
    ``80,443`` or ``8000-8099``; raises ``ValueError`` for anything else."""
    text = spec.strip()
    m = _BRACKETED.fullmatch(text)
    if m:
        net, ports = m["net"] + (m["len"] or ""), m["ports"]
    elif text.count(":") == 1:  # an IPv6 network has at least two colons
        net, ports = text.split(":")
    else:
        net, ports = text, None
    return AllowRule(ipaddress.ip_network(net.strip(), strict=False), _parse_ports(ports) if ports else None)


class AddressGuard:
    """Resolves hosts, refuses forbidden addresses and remembers (pins) the checked ones for a while.

    ``enabled=False`` still resolves and pins (so static hosts work) but refuses nothing.
    """

    def __init__(self, enabled: bool = True, allow_networks: Iterable[str] = (),
                 static_hosts: Mapping[str, list[str]] | None = None, ttl: float = 300.0,
                 timeout: float = 10.0):
        self.enabled = enabled
        self.allow = tuple(parse_allow_rule(s) for s in allow_networks)
        self.static_hosts = {h.lower(): list(a) for h, a in (static_hosts or {}).items()}
        self.ttl = ttl
        self.timeout = timeout
        self._pinned: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self.lookups = 0  # DNS / static lookups done (for tests)
        self.max_hosts = 100_000

    def allowed(self, ip: IPAddress | str, port: int | None = None) -> tuple[bool, str | None]:
        """(ok, reason) for one address (and the port to be contacted) under this guard's policy."""
        if isinstance(ip, str):
            ip = ipaddress.ip_address(ip.split("%", 1)[0])
        if not self.enabled or any(rule.admits(ip, port) for rule in self.allow):
            return True, None
        inner = embedded_ipv4(ip)
        if inner is not None and any(rule.admits(inner, port) for rule in self.allow):
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
                ok, reason = self.allowed(a, port)
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
