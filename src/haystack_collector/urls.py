"""URL canonicalisation and crawl-scope helpers: pure functions, no I/O.

Every URL the crawler stores, queues or compares goes through `canonicalize` first, so two
spellings of one resource (``HTTP://Example.COM:80/a/./b#x`` and ``http://example.com/a/b``)
become one item.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import idna

__all__ = ["canonicalize", "host_of", "looks_like_trap", "same_site", "scheme_of"]

_ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_PORT = 65535
_MAX_HOST_LENGTH = 253
# Browsers strip C0 controls and space around a URL and drop tabs/newlines inside it
# (WHATWG URL "basic URL parser"); links in real HTML often carry such stray whitespace.
_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
# WHATWG forbidden host code points (minus "%", which we also refuse: no percent-decoded hosts).
_FORBIDDEN_HOST = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters browsers percent-encode (WHATWG path and special-query percent-encode sets), on top
# of controls, space and non-ASCII. Everything else, reserved characters included, stays as is.
_PATH_ENCODE = re.compile(r"""[^!$%&'()*+,\-./0-9:;=@A-Z\[\\\]^_a-z|~]""")
_QUERY_ENCODE = re.compile(r"""[^!$%&()*+,\-./0-9:;=?@A-Z\[\\\]^_`a-z{|}~]""")
_MAX_QUERY_PARAMS = 20


def _fix_escape(match: re.Match[str]) -> str:
    """Decode an escaped unreserved character, upper-case any other escape."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _encode_char(match: re.Match[str]) -> str:
    # Lone surrogates cannot be UTF-8 encoded; "surrogatepass" keeps canonicalize total.
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8", "surrogatepass"))


def _normalise_component(text: str, encode: re.Pattern[str]) -> str:
    """Normalise escapes (RFC 3986 §6.2.2) and percent-encode what browsers would encode."""
    if "%" in text:
        text = _ESCAPE.sub(_fix_escape, text)
    if encode.search(text) is None:
        return text
    return encode.sub(_encode_char, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, written over segments."""
    if "/." not in path:
        return path
    segments = path.split("/")
    output: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    # A path ending in "." or ".." still names a directory: keep the trailing slash.
    if segments[-1] in {".", ".."}:
        output.append("")
    return "/" + "/".join(output)


def _canonical_ipv6(host: str) -> str | None:
    """Return "[compressed lower-case address]" for a bracketed IPv6 host, else None."""
    if not host.endswith("]"):
        return None
    try:
        return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _canonical_host(host: str) -> str | None:
    """Lower-case and IDNA-encode a host; None when it is not a valid host."""
    if host.startswith("["):
        return _canonical_ipv6(host)
    if not host or _FORBIDDEN_HOST.search(host):
        return None
    if host.isascii():
        host = host.lower()
    else:
        try:
            # UTS 46 non-transitional processing is what browsers and httpx (which fetches
            # our URLs) apply, so "faß.de" stays distinct from "fass.de".
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                # IDNA 2008 refuses symbols that browsers still resolve ("☃.net"); the
                # IDNA 2003 codec accepts them, and the ASCII result is fetchable as is.
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                return None
    if len(host) > _MAX_HOST_LENGTH or host.startswith("."):
        return None
    return host


def _canonical_authority(netloc: str, scheme: str) -> str | None:
    """Return the canonical authority (userinfo and default port dropped), or None.

    Userinfo goes: the canonical URL is what items are stored under and what pages show, and a
    ``user:password@`` there would be a credential anyone reading items can see.
    """
    _, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return None
        host, port = hostport[: end + 1], hostport[end + 1 :]
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    else:
        host, _, port = hostport.partition(":")
    # Checked before the cache so hostile megabyte hosts are neither processed nor retained;
    # a Unicode host may be longer than its ASCII form, hence the slack over 253.
    canonical_host = _canonical_host(host) if len(host) <= _MAX_HOST_LENGTH * 4 else None
    if canonical_host is None:
        return None
    if port:
        if not port.isascii() or not port.isdigit() or int(port) > _MAX_PORT:
            return None
        if int(port) != _DEFAULT_PORTS[scheme]:
            canonical_host = f"{canonical_host}:{int(port)}"
    return canonical_host


def canonicalize(url: str, base: str | None = None) -> str | None:
    """Return the canonical absolute http(s) form of `url`, or None if it is not one.

    Resolves against `base` (RFC 3986 §5, with the browser leniencies of the WHATWG URL
    standard for http(s): "\\" read as "/", extra slashes after the scheme ignored, "http:g"
    relative to an http base), drops the fragment, removes dot segments, lower-cases scheme and
    host, IDNA-encodes the host, drops default ports, turns an empty path into "/", decodes
    escaped unreserved characters and upper-cases other escapes. The query keeps its order and
    its reserved characters; an empty query ("?") is dropped. Never raises.
    """
    try:
        return _canonicalize(url, base)
    except (ValueError, UnicodeError, TypeError, RecursionError):
        return None


@lru_cache(maxsize=256)
def _base_parts(base: str) -> tuple[str, str, str, str] | None:
    """Split a base URL once per page, not once per link: (scheme, authority, path, query)."""
    canonical = _canonicalize(base, None)
    if canonical is None:
        return None
    scheme, _, rest = canonical.partition("://")
    authority, path, query = _split_rest(rest)
    return scheme, authority, path, query


def _split_rest(rest: str) -> tuple[str, str, str]:
    """Split "authority/path?query" (fragment already removed)."""
    end = len(rest)
    for delimiter in "/?":
        index = rest.find(delimiter)
        if 0 <= index < end:
            end = index
    authority, rest = rest[:end], rest[end:]
    path, _, query = rest.partition("?")
    return authority, path, query


def _merge(base_path: str, ref_path: str) -> str:
    """RFC 3986 §5.2.3 (the base always has an authority here)."""
    if not base_path:
        return "/" + ref_path
    return base_path[: base_path.rfind("/") + 1] + ref_path


def _cleaned(url: str) -> str:
    """``url`` as a URL parser reads it: no C0 controls or spaces around, no tabs or newlines."""
    url = url.strip(_C0_AND_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = _TAB_NEWLINE.sub("", url)
    return url


def scheme_of(url: str) -> str | None:
    """The lower-case scheme ``url`` names as a URL parser reads it, or None (none, or relative)."""
    match = _SCHEME.match(_cleaned(url))
    return None if match is None else match.group(1).lower()


def _canonicalize(url: str, base: str | None) -> str | None:
    url = _cleaned(url).partition("#")[0]
    if "\\" in url:
        # Browsers read a backslash as "/" before the query in http(s) URLs.
        head, sep, tail = url.partition("?")
        url = head.replace("\\", "/") + sep + tail
    base_parts = _base_parts(base) if base else None

    match = _SCHEME.match(url)
    if match is not None:
        scheme = match.group(1).lower()
        if scheme not in _ALLOWED_SCHEMES:
            return None
        rest = url[match.end() :]
        if base_parts is None or base_parts[0] != scheme or rest.startswith("//"):
            # Absolute: browsers ignore how many slashes follow "http:".
            authority, path, query = _split_rest(rest.lstrip("/"))
            return _assemble(scheme, _canonical_authority(authority, scheme), path, query)
        url = rest  # "http:g" against an http base is relative, as in browsers
    if base_parts is None:
        return None
    scheme, base_authority, base_path, base_query = base_parts
    if url.startswith("//"):
        authority, path, query = _split_rest(url.lstrip("/"))
        return _assemble(scheme, _canonical_authority(authority, scheme), path, query)
    path, has_query, query = url.partition("?")
    if not path:
        path = base_path
        if not has_query:
            query = base_query
    elif not path.startswith("/"):
        path = _merge(base_path, path)
    # The base authority is canonical already.
    return _assemble(scheme, base_authority, path, query)


def _assemble(scheme: str, authority: str | None, path: str, query: str) -> str | None:
    if authority is None:
        return None
    # Escapes first: "%2e%2e" is a dot segment once decoded, as browsers treat it.
    path = _remove_dot_segments(_normalise_component(path, _PATH_ENCODE)) if path else "/"
    if query:
        return f"{scheme}://{authority}{path}?{_normalise_component(query, _QUERY_ENCODE)}"
    return f"{scheme}://{authority}{path}"


def host_of(url: str) -> str:
    """Return the canonical host of `url` (IPv6 without brackets), or "" if it has none."""
    canonical = canonicalize(url)
    if canonical is None:
        return ""
    host = urlsplit(canonical).hostname
    return host or ""


def same_site(url: str, allowed_hosts: set[str]) -> bool:
    """Tell whether the host of `url` is one of `allowed_hosts` or a subdomain of one.

    Allowed hosts come from configuration, so any case, IDN spelling, bare IPv6 address or
    trailing dot is accepted; a trailing dot on the URL's host does not take it out of scope.
    """
    host = host_of(url).rstrip(".")
    if not host:
        return False
    for allowed in allowed_hosts:
        name = allowed.strip().rstrip(".")
        if name.count(":") > 1 and not name.startswith("["):  # a bare IPv6 address
            name = f"[{name}]"
        allowed_host = host_of(f"http://{name}/")
        if allowed_host and (host == allowed_host or host.endswith("." + allowed_host)):
            return True
    return False


def looks_like_trap(url: str, *, max_length: int = 2048, max_repeats: int = 3) -> str | None:
    """Return why `url` looks like a crawler trap, or None if nothing is suspicious.

    Checks what one URL can show: its length, a path segment that occurs more than
    `max_repeats` times (``/a/b/a/b/a/b/a/b``, ``/x/x/x/x``) and more than 20 query parameters.
    Calendar-style traps (``/2024/05/``, ``/2024/06/``, ... forever) look like normal URLs one
    at a time; they are not decidable here and are left to the crawl's depth and page limits.
    """
    if len(url) > max_length:
        return f"URL longer than {max_length} characters ({len(url)})"
    path, query = _path_and_query(url)
    counts: dict[str, int] = {}
    for segment in path.split("/"):
        if segment:
            counts[segment] = counts.get(segment, 0) + 1
            if counts[segment] > max_repeats:
                return f"path segment {segment!r} repeated more than {max_repeats} times"
    params = sum(1 for pair in query.split("&") if pair)
    if params > _MAX_QUERY_PARAMS:
        return f"more than {_MAX_QUERY_PARAMS} query parameters ({params})"
    return None


def _path_and_query(url: str) -> tuple[str, str]:
    """Split off path and query without urlsplit, which raises on malformed IPv6 hosts."""
    rest = url.partition("#")[0]
    rest, _, query = rest.partition("?")
    if "://" in rest:
        rest = rest.split("://", 1)[1]
        rest = "/" + rest.partition("/")[2]
    return rest, query
