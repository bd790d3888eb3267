"""Which network addresses a URL from a record may reach: the public internet only, unless allowed.

A records file is data from elsewhere. Without this guard, a row saying `http://169.254.169.254/latest/...`
or `http://10.0.0.5/admin` would make the ingest (or the web app's proxy) fetch from inside the operator's
network and index or serve the answer. So every address a host name resolves to is checked, and the URL
is refused when ANY of them is loopback, private, link-local, shared (100.64/10), multicast, reserved or
unspecified; IPv4 addresses wrapped in IPv6 (::ffff:a.b.c.d, 6to4, NAT64) are checked as the IPv4 inside.
`allow_private_addresses` lifts that (a MinIO or an image server on the LAN, the tests' loopback servers),
but never for the cloud metadata endpoints: no image lives there, and they hand out credentials.

The caller connects to one of the addresses checked here (http_fetch.py pins the connection to it), so a
name that resolves to a public address for the check and a private one for the connect (DNS rebinding)
gets nowhere. The configured S3 endpoint is the operator's own setting and is not checked.
"""

from __future__ import annotations

import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address

from es_search.errors import FileFailure

IPAddress = IPv4Address | IPv6Address

# AWS, GCP and Azure (169.254.169.254), AWS ECS task credentials, AWS IPv6 IMDS, Alibaba Cloud.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(text) for text in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), if any."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress, allow_private: bool) -> str | None:
    """Why `address` may not be fetched from, or None when it may. Pure."""
    inner = embedded_ipv4(address)
    if inner is not None:
        problem = address_problem(inner, allow_private)
        return f"{problem} (inside {address})" if problem else None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if allow_private:
        return None
    for kind, flag in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("private", address.is_private), ("reserved", address.is_reserved)):
        if flag:
            return f"{address} is a {kind} address"
    if not address.is_global:  # 100.64.0.0/10 (carrier-grade NAT) and the like
        return f"{address} is not a public address"
    return None


def check_address(address: IPAddress, allow_private: bool) -> None:
    """FileFailure(refused_address) when `address` may not be fetched from."""
    problem = address_problem(address, allow_private)
    if problem:
        hint = "" if allow_private else " (IMGSEARCH_ALLOW_PRIVATE_ADDRESSES=true allows private ones)"
        raise FileFailure("refused_address", f"refused: {problem}{hint}")


def resolve_checked(host: str, port: int, allow_private: bool) -> list[IPAddress]:
    """Every address `host` resolves to, all of them checked; FileFailure(refused_address) if any is refused,
    FileFailure(download_failed) when the name does not resolve."""
    literal = _literal(host)
    if literal is not None:
        check_address(literal, allow_private)
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FileFailure("download_failed", f"cannot resolve host {host!r}: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FileFailure("download_failed", f"host {host!r} has no address")
    for address in addresses:
        check_address(address, allow_private)
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
