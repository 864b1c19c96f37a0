"""Specification of URL canonicalisation, site scoping and crawler-trap detection."""

from __future__ import annotations

import pytest

from haystack_collector.urls import canonicalize, host_of, looks_like_trap, same_site

RFC_BASE = "http://a/b/c/d;p?q"


# RFC 3986 §5.4.1 and §5.4.2, with the fragment dropped from every expected result.
@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        # §5.4.1 normal examples
        ("g:h", None),  # an absolute URI of another scheme is not crawlable
        ("g", "http://a/b/c/g"),
        ("./g", "http://a/b/c/g"),
        ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"),
        ("//g", "http://g/"),
        ("?y", "http://a/b/c/d;p?y"),
        ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q"),
        ("g#s", "http://a/b/c/g"),
        ("g?y#s", "http://a/b/c/g?y"),
        (";x", "http://a/b/c/;x"),
        ("g;x", "http://a/b/c/g;x"),
        ("g;x?y#s", "http://a/b/c/g;x?y"),
        ("", "http://a/b/c/d;p?q"),
        (".", "http://a/b/c/"),
        ("./", "http://a/b/c/"),
        ("..", "http://a/b/"),
        ("../", "http://a/b/"),
        ("../g", "http://a/b/g"),
        ("../..", "http://a/"),
        ("../../", "http://a/"),
        ("../../g", "http://a/g"),
        # §5.4.2 abnormal examples
        ("../../../g", "http://a/g"),
        ("../../../../g", "http://a/g"),
        ("/./g", "http://a/g"),
        ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."),
        (".g", "http://a/b/c/.g"),
        ("g..", "http://a/b/c/g.."),
        ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"),
        ("./g/.", "http://a/b/c/g/"),
        ("g/./h", "http://a/b/c/g/h"),
        ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
        ("g;x=1/../y", "http://a/b/c/y"),
        ("g?y/./x", "http://a/b/c/g?y/./x"),  # dot segments in a query are data
        ("g?y/../x", "http://a/b/c/g?y/../x"),
        ("g#s/./x", "http://a/b/c/g"),
        ("g#s/../x", "http://a/b/c/g"),
        # RFC 3986 allows either; browsers (and we) take the backward-compatible reading.
        ("http:g", "http://a/b/c/g"),
    ],
)
def test_resolves_rfc3986_reference_examples(reference: str, expected: str | None) -> None:
    assert canonicalize(reference, RFC_BASE) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host case, default ports, empty path
        ("HTTP://Example.COM", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:08080/", "http://example.com:8080/"),
        ("http://example.com:/", "http://example.com/"),
        ("http://example.com?q=1", "http://example.com/?q=1"),
        # credentials never stay in a stored URL
        ("http://user:pass@Example.com:8080", "http://example.com:8080/"),
        ("https://alice:ghp_abc@github.com/o/r", "https://github.com/o/r"),
        ("https://token@github.com", "https://github.com/"),
        ("http://a:b@c@example.com/", "http://example.com/"),
        # fragments go, the query stays exactly in order
        ("http://example.com/a#top", "http://example.com/a"),
        ("http://example.com/a?b=2&a=1&b=1#x", "http://example.com/a?b=2&a=1&b=1"),
        ("http://example.com/a?", "http://example.com/a"),
        ("http://example.com/a?x=#y?z", "http://example.com/a?x="),
        # dot segments without a base, including escaped dots
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/../../a", "http://example.com/a"),
        ("http://example.com/a/%2e%2E/b", "http://example.com/b"),
        # percent-encoding: escapes upper-cased, unreserved decoded, reserved left encoded
        ("http://example.com/%7euser/%e2%82%ac", "http://example.com/~user/%E2%82%AC"),
        ("http://example.com/a%2fb?x=%2f%3d%26&y=%41", "http://example.com/a%2Fb?x=%2F%3D%26&y=A"),
        ("http://example.com/100%", "http://example.com/100%"),
        ("http://example.com/%zz", "http://example.com/%zz"),
        # what a browser would encode before sending
        (
            "http://example.com/a b/ü?q=a b&r=€",
            "http://example.com/a%20b/%C3%BC?q=a%20b&r=%E2%82%AC",
        ),
        ("http://example.com/{x}?a[]=1&b={x}|y", "http://example.com/%7Bx%7D?a[]=1&b={x}|y"),
        ('http://example.com/?q="x"<y>', "http://example.com/?q=%22x%22%3Cy%3E"),
        # IPv6 hosts
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("http://[2001:db8:0:0:0:0:0:1]:80/x", "http://[2001:db8::1]/x"),
        ("https://[::1]:8443", "https://[::1]:8443/"),
        ("http://[::ffff:192.0.2.1]/", "http://[::ffff:c000:201]/"),
        # IDN hosts: UTS 46 non-transitional, as browsers and httpx encode them
        ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("http://пример.рф/путь", "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C"),
        ("http://例え.テスト/", "http://xn--r8jz45g.xn--zckzah/"),
        ("http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"),
        ("http://☃.net/", "http://xn--n3h.net/"),
        ("http://example\uff0ecom/", "http://example.com/"),
        ("http://\uff41\uff42\uff43.com/", "http://abc.com/"),  # full-width letters fold
        # whitespace and controls around the URL, tabs/newlines inside, as browsers strip them
        ("  http://example.com/a  ", "http://example.com/a"),
        ("\n\thttp://example.com/a\x00\x1f", "http://example.com/a"),
        ("http://exa\nmple.com/a\tb\r", "http://example.com/ab"),
        # browser leniency for http(s): backslashes and slash counts
        ("http:\\\\example.com\\a\\b?c\\d", "http://example.com/a/b?c\\d"),
        ("http:/example.com/a", "http://example.com/a"),
        ("http:///example.com/a", "http://example.com/a"),
    ],
)
def test_canonicalizes_absolute_urls(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    ("reference", "base", "expected"),
    [
        (
            "/wiki/Firefox",
            "https://en.wikipedia.org/wiki/Mozilla",
            "https://en.wikipedia.org/wiki/Firefox",
        ),
        (
            "//upload.wikimedia.org/a.png",
            "https://en.wikipedia.org/wiki/M",
            "https://upload.wikimedia.org/a.png",
        ),
        ("//cdn.example.com", "http://example.com/", "http://cdn.example.com/"),
        (
            "jobs/x-0.html",
            "https://realpython.github.io/fake-jobs/",
            "https://realpython.github.io/fake-jobs/jobs/x-0.html",
        ),
        (
            "jobs/x-0.html",
            "https://realpython.github.io/fake-jobs",
            "https://realpython.github.io/jobs/x-0.html",
        ),
        ("?page=2", "http://example.com/list?page=1#top", "http://example.com/list?page=2"),
        ("#section", "http://example.com/a?b=1", "http://example.com/a?b=1"),
        ("https://other.org/x", "http://example.com/", "https://other.org/x"),
        ("../x", "http://example.com", "http://example.com/x"),
        ("x", "http://example.com", "http://example.com/x"),
        ("  /a b  ", "http://example.com/", "http://example.com/a%20b"),
        ("\\\\evil.com/x", "http://example.com/", "http://evil.com/x"),
        ("https:x", "http://example.com/", "https://x/"),  # another scheme: "x" is a host
        # the base is canonicalised too
        ("a", "HTTP://Example.com:80/b/c#frag", "http://example.com/b/a"),
        # a base that is not http(s) cannot anchor a relative link
        ("a", "ftp://example.com/", None),
        ("a", "not a url", None),
    ],
)
def test_resolves_real_world_links(reference: str, base: str, expected: str | None) -> None:
    assert canonicalize(reference, base) == expected


@pytest.mark.parametrize(
    "url",
    [
        "mailto:someone@example.com",
        "javascript:void(0)",
        "JavaScript:alert(1)",
        "data:text/html,<b>x</b>",
        "tel:+15551234567",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "about:blank",
        "example.com/no-scheme",
        "//example.com/protocol-relative-without-base",
        "/relative-without-base",
        "",
        "   ",
    ],
)
def test_rejects_what_is_not_an_http_url(url: str) -> None:
    assert canonicalize(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:///",
        "http://:80/",
        "http://@/",
        "http://[::1",
        "http://[::1]x/",
        "http://[not-an-ip]/",
        "http://[v1.fe]/",
        "http://a:99999/",
        "http://a:65536/",
        "http://a:-1/",
        "http://a:b/",
        "http://a:\uff18\uff10/",  # full-width digits are not a port
        "http://exa mple.com/",
        "http://exa<mple.com/",
        "http://a%20b.com/",
        "http://\ud800.com/",
        "http://xn--a.com\u0000/",
        "http://" + "a" * 300 + ".com/",
        "http://.example.com/",
    ],
)
def test_rejects_invalid_authorities(url: str) -> None:
    assert canonicalize(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/" + "a/" * 100_000,
        "http://example.com/?" + "x=1&" * 100_000,
        "http://example.com/" + "../" * 50_000,
        "http://" + "a." * 10_000 + "com/",
        "http://" + "ü" * 5_000 + ".com/",
        "http://example.com/\udcff\ud800?\udfff",
        "\x00" * 1000,
        "http://[" + ":" * 1000 + "]/",
        "http://[::1]:" + "9" * 1000 + "/",
        "%" * 1000,
        "http://example.com/" + "%" * 1000,
        "h" * 100_000 + ":x",
        "http://example.com/\u202e\u200b\ufeff\U0001f600",
        "http://ex\u0301ample.com/",
        "http://\uff41\uff42\uff43.com/",
    ],
)
def test_never_raises_on_hostile_input(url: str) -> None:
    result = canonicalize(url, "http://example.com/base")
    assert result is None or result.startswith(("http://", "https://"))


def test_canonical_urls_are_fixed_points() -> None:
    urls = [
        "HTTP://Bücher.example:80/a/./b/../c d?x=%2f&y=%41#f",
        "https://[2001:DB8::1]:443/%7e",
        "http://example.com/100%/{x}?a[]=1",
    ]
    for url in urls:
        once = canonicalize(url)
        assert once is not None
        assert canonicalize(once) == once


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Example.COM:8080/a", "example.com"),
        ("https://[2001:DB8::1]/", "2001:db8::1"),
        ("http://Bücher.example/", "xn--bcher-kva.example"),
        ("http://user@host.example/", "host.example"),
        ("mailto:a@b.c", ""),
        ("not a url", ""),
        ("http://[::1", ""),
    ],
)
def test_host_of(url: str, expected: str) -> None:
    assert host_of(url) == expected


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("http://example.com/a", {"example.com"}, True),
        ("https://www.example.com/a", {"example.com"}, True),
        ("https://a.b.example.com/a", {"example.com"}, True),
        ("http://EXAMPLE.com/", {"Example.COM"}, True),
        ("http://example.com./", {"example.com"}, True),  # the same DNS name
        ("http://example.com/", {"example.com."}, True),
        ("http://badexample.com/", {"example.com"}, False),
        ("http://example.com.evil.org/", {"example.com"}, False),
        ("http://example.org/", {"example.com"}, False),
        ("http://example.com/", {"www.example.com"}, False),  # the parent is not in scope
        ("http://bücher.example/", {"xn--bcher-kva.example"}, True),
        ("http://xn--bcher-kva.example/", {"Bücher.example"}, True),
        ("http://[::1]:8080/", {"::1"}, True),
        ("http://[::1]:8080/", {"[::1]"}, True),
        ("http://[::2]/", {"::1"}, False),
        ("http://10.0.0.1/", {"10.0.0.1"}, True),
        ("http://example.com/", {"example.com:8080"}, True),  # scope is by host, not port
        ("http://example.com/", set(), False),
        ("mailto:a@example.com", {"example.com"}, False),
        ("http://[::1", {"::1"}, False),
    ],
)
def test_same_site(url: str, allowed: set[str], expected: bool) -> None:
    assert same_site(url, allowed) is expected


@pytest.mark.parametrize(
    ("url", "kwargs", "reason_contains"),
    [
        ("http://example.com/a/b/c", {}, None),
        ("http://example.com/2024/05/01/2024", {}, None),
        ("http://example.com/a/b/a/b/a/b", {}, None),  # three repeats are allowed
        ("http://example.com/a/b/a/b/a/b/a/b", {}, "'a' repeated"),
        ("http://example.com/x/x/x/x", {}, "'x' repeated"),
        ("http://example.com/x/x/x/x", {"max_repeats": 4}, None),
        ("http://example.com/x//x//x", {"max_repeats": 2}, "'x' repeated"),
        ("http://example.com/" + "a" * 2100, {}, "longer than 2048"),
        ("http://example.com/" + "a" * 100, {"max_length": 50}, "longer than 50"),
        ("http://example.com/?" + "&".join(f"p{i}=1" for i in range(20)), {}, None),
        ("http://example.com/?" + "&".join(f"p{i}=1" for i in range(21)), {}, "query parameters"),
        ("http://example.com/x/x/x/x?q=/y/y/y/y", {"max_repeats": 4}, None),
        ("http://example.com/a?x=1#/a/a/a/a", {}, None),  # a fragment is not a path
        ("http://[::1/a/a/a/a", {}, "'a' repeated"),  # malformed hosts do not hide a trap
    ],
)
def test_looks_like_trap(url: str, kwargs: dict[str, int], reason_contains: str | None) -> None:
    reason = looks_like_trap(url, **kwargs)
    if reason_contains is None:
        assert reason is None
    else:
        assert reason is not None
        assert reason_contains in reason


def test_trap_detection_documents_what_it_cannot_decide() -> None:
    doc = looks_like_trap.__doc__ or ""
    assert "calendar" in doc.lower()
    assert "depth" in doc.lower()
