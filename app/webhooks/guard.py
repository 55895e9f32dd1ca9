"""The SSRF guard: where the portal may POST.

Twice: when an admin saves a URL (its form: http/https, no credentials, a host, and no literal
internal address), and again at every send, after DNS: every address the name resolves to must be
public, and the connection then goes to the address that was checked, never to a second lookup
(which a hostile DNS server could answer differently: DNS rebinding). WEBHOOK_ALLOW_PRIVATE turns
the address checks off (tests, receivers on a trusted internal network)."""
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from app.exceptions import InvalidInput

URL_MAX = 2000
SCHEMES = ("http", "https")
# RFC 6598 shared address space: ISPs' carrier-grade NAT, not on the public internet (and not
# `is_private` in Python 3.11).
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Cloud metadata services (AWS, GCP, Azure...): they hand out the machine's credentials.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
# The spellings of an IPv4 address inet_aton also takes: 127.1, 2130706433, 0x7f.0.0.1.
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The URL may not be called now (its host resolves to an internal address, or not at all)."""


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the URL's parts, and the vetted addresses to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_url(url: object, *, allow_private: bool) -> str:
    """The URL, trimmed, if an endpoint may have it; InvalidInput (field `url`) saying why not."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput.field("url", "Required: the http or https URL to POST to.")
    url = url.strip()
    if len(url) > URL_MAX:
        raise InvalidInput.field("url", f"At most {URL_MAX} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidInput.field("url", "May not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading it validates it
    except ValueError:
        raise InvalidInput.field("url", "Not a valid URL (check the host and the port).") from None
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidInput.field("url", "Only http:// and https:// URLs are allowed.")
    if "@" in parts.netloc:
        raise InvalidInput.field("url", "May not contain a user name or password; put credentials in the "
                                        "path or verify the signature instead.")
    if not parts.hostname:
        raise InvalidInput.field("url", "Must name a host.")
    literal = literal_address(parts.hostname)
    if literal is not None and not allow_private and (reason := forbidden(literal)):
        raise InvalidInput.field("url", f"{parts.hostname} is {reason}; webhooks go to public addresses only "
                                        "(WEBHOOK_ALLOW_PRIVATE allows internal ones).")
    return url


def target(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host now and vet every address; Refused saying why (no connection made)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from exc
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise Refused(f"cannot resolve {host}: no address")
    if not allow_private:
        for address in addresses:
            if reason := forbidden(ipaddress.ip_address(address.split("%")[0])):
                raise Refused(f"refused: {host} resolves to {address}, {reason} (WEBHOOK_ALLOW_PRIVATE is off)")
    return Target(scheme=parts.scheme.lower(), host=host, port=port, path=_path(parts), addresses=addresses)


def forbidden(address: Address) -> str | None:
    """Why the portal may not call this address, or None when it is a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and (reason := forbidden(embedded)):
            return f"{reason} (inside an IPv6 address)"
    checks = [
        (address in _METADATA, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a carrier-grade NAT address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    ]
    return next((reason for hit, reason in checks if hit), None)


def literal_address(host: str) -> Address | None:
    """The address when the host is written as one (any spelling the resolver takes), else None."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _path(parts: SplitResult) -> str:
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path
