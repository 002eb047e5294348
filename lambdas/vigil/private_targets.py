"""Which addresses a checker may call: the http check's guard against being turned on its own host.

An http check calls whatever its URL names, and quotes the answer in its reason (`json_assert`
prints the value it found). Pointed at the instance metadata service, the Lambda runtime API on
loopback or a private admin page, it would fetch from inside AWS what nobody outside may read, and
DNS can point any name there after review (rebinding). So, unless the check says
`allow_private: true`:

- always refused: loopback (127.0.0.0/8, ::1; the Lambda runtime API listens there), link-local
  (169.254.0.0/16, fe80::/10: the instance metadata service at 169.254.169.254 and the VPC's DNS
  and time servers), the IPv6 metadata endpoint fd00:ec2::254, the unspecified address (0.0.0.0
  reaches this host), multicast and reserved ranges;
- private addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 and every other address that
  is not globally routable) only from a check placed in a VPC (`vpc`): reaching internal endpoints
  is what that placement is for, and the catalog already names the VPC and security groups it may
  reach. A checker outside a VPC cannot route to them, so such an address there is a mistake or a
  rebinding.

IPv4 addresses written as IPv6 (::ffff:a.b.c.d, 64:ff9b::a.b.c.d) are judged as the IPv4 address.
Pure and standard library only: the spec checks URL literals with it, the checker every address
it resolves and connects to.
"""

from __future__ import annotations

import ipaddress

# fd00:ec2::254 is in fc00::/7 (private), but it is the metadata service: never from a VPC either.
_METADATA_V6 = ipaddress.IPv6Address("fd00:ec2::254")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAMES = ("localhost", "localhost.localdomain")


def refusal(address: str, allow_private: bool, in_vpc: bool) -> str | None:
    """Why `address` (an IP literal) may not be called, in words; None when it may."""
    if allow_private:
        return None
    ip = _as_ipv4_if_embedded(ipaddress.ip_address(address.split("%", 1)[0]))
    if ip.is_loopback:
        return f"{address} is a loopback address (this host)"
    if ip.is_link_local:
        return f"{address} is a link-local address (the instance metadata service lives at 169.254.169.254)"
    if ip == _METADATA_V6:
        return f"{address} is the instance metadata service"
    if ip.is_unspecified:
        return f"{address} is the unspecified address (it reaches this host)"
    if ip.is_multicast or ip.is_reserved:
        return f"{address} is a multicast or reserved address"
    if not ip.is_global and not in_vpc:
        return f"{address} is a private address, reachable only from a check placed in a VPC (vpc)"
    return None


def host_refusal(host: str, allow_private: bool, in_vpc: bool) -> str | None:
    """What can be told from the URL alone: an IP literal, or a name that always means this host."""
    name = host.strip("[]").lower().rstrip(".")
    if not allow_private and (name in LOCAL_NAMES or name.endswith(".localhost")):
        return f"{host} is this host (loopback)"
    try:
        return refusal(name, allow_private, in_vpc)
    except ValueError:
        return None  # a name: judged when the checker resolves it


def _as_ipv4_if_embedded(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip
