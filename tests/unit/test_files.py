"""Safe file names, content sniffing, type agreement, link classes and hashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from haystack_collector.files import (
    MAX_NAME_BYTES,
    check_type,
    extension_of,
    file_class,
    file_hashes,
    file_name_for,
    parse_content_disposition,
    safe_file_name,
    sniff,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/etc/shadow", "shadow"),
        ("C:\\boot.ini", "boot.ini"),
        ("..", "download"),
        (".", "download"),
        ("", "download"),
        ("   ", "download"),
        (".bashrc", "bashrc.download"),  # no hidden files, and no rc file by another name
        ("evil\x00.pdf.exe", "evil.pdf.exe"),
        ("a\x01b\x1fc.txt", "abc.txt"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("LPT1.log", "_LPT1.log"),
        ("aux", "_aux"),
        ("console.txt", "console.txt"),
        ("what?<is>:this|*.txt", "what__is__this__.txt"),
        ("trailing dots... ", "trailing dots"),
        ("fullwidth\uff0f..\uff0fsecret.txt", "secret.txt"),
        ("division\u2215slash.txt", "slash.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # right-to-left override hides ".exe"
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("café.txt", "café.txt"),
        ("ﬁle.txt", "file.txt"),  # NFKC: the ligature is two letters
    ],
)
def test_safe_file_name_never_leaves_the_folder(given: str, expected: str) -> None:
    assert safe_file_name(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("zz_evil.pth", "zz_evil.pth.download"),
        ("ZZ_EVIL.PTH", "ZZ_EVIL.PTH.download"),
        ("sitecustomize.py", "sitecustomize.py.download"),
        ("usercustomize.py", "usercustomize.py.download"),
        ("json.py", "json.py.download"),  # would shadow the module for scripts run there
        (
            "module.cpython-311-x86_64-linux-gnu.so",
            "module.cpython-311-x86_64-linux-gnu.so.download",
        ),
        ("libssl.so.3", "libssl.so.3.download"),
        ("helper.dylib", "helper.dylib.download"),
        ("version.dll", "version.dll.download"),
        ("cached.pyc", "cached.pyc.download"),
        (".profile", "profile.download"),
        (".zshrc", "zshrc.download"),
        ("bash_profile", "bash_profile.download"),
        ("../.bash_login", "bash_login.download"),
        ("firefox.desktop", "firefox.desktop.download"),
        ("Desktop.ini", "Desktop.ini.download"),
        ("autorun.inf", "autorun.inf.download"),
        ("git.bat", "git.bat.download"),
        (".env", "env.download"),
        ("report.pdf", "report.pdf"),
        ("setup.exe", "setup.exe"),  # applications are a class the downloader keeps as they are
        ("python.tar.gz", "python.tar.gz"),
        ("notes.txt", "notes.txt"),
    ],
)
def test_names_something_would_load_on_its_own_are_made_inert(given: str, expected: str) -> None:
    assert safe_file_name(given) == expected
    assert file_name_for("https://x.test/f.bin", f'attachment; filename="{given}"') == expected
    assert file_name_for(f"https://x.test/dl/{given}") == expected


def test_an_inert_name_stays_under_the_byte_limit_with_its_suffix() -> None:
    name = safe_file_name("a" * 400 + ".pth")
    assert name.endswith(".pth.download")
    assert len(name.encode()) <= MAX_NAME_BYTES + len(".download")


def test_safe_names_join_to_a_child_of_the_folder(tmp_path: Path) -> None:
    nasty = ["../../etc/passwd", "/abs", "..", "a/../../b", "\x00", "NUL", "x" * 1000, "\u202e"]
    for name in nasty:
        joined = (tmp_path / safe_file_name(name)).resolve()
        assert joined.parent == tmp_path.resolve(), name


def test_overlong_names_are_cut_to_the_byte_limit_keeping_the_extension() -> None:
    name = safe_file_name("é" * 300 + ".pdf")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith(".pdf")
    assert name.startswith("é")
    cut = safe_file_name("a" * 400)
    assert cut == "a" * MAX_NAME_BYTES


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ("attachment; filename=plain.txt", "plain.txt"),
        ('attachment; filename="a \\"quoted\\" name.txt"', 'a "quoted" name.txt'),
        ("attachment; filename*=UTF-8''na%C3%AFve%20file.txt", "naïve file.txt"),
        (
            "attachment; filename=\"fallback.txt\"; filename*=UTF-8''pr%C3%A9f%C3%A9r%C3%A9.txt",
            "préféré.txt",
        ),
        ("attachment; filename*=bogus-charset''x.txt; filename=ok.txt", "ok.txt"),
        ("inline", None),
        ("", None),
        (None, None),
    ],
)
def test_content_disposition_file_names(header: str | None, expected: str | None) -> None:
    assert parse_content_disposition(header) == expected


def test_file_names_come_from_content_disposition_then_the_url() -> None:
    url = "http://h/files/..%2F..%2Fetc%2Fpasswd"
    assert file_name_for(url) == "passwd"
    assert file_name_for("http://h/get?id=1", 'attachment; filename="../../etc/passwd"') == (
        "passwd"
    )
    assert file_name_for("http://h/docs/My%20Report.pdf?x=1") == "My Report.pdf"
    assert file_name_for("http://h/") == "download"
    assert file_name_for("http://h/a.pdf", "attachment; filename*=UTF-8''%2E%2E%2Fb.pdf") == "b.pdf"


TINY_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (TINY_PDF, "pdf"),
        (b"\r\n\r\n%PDF-1.7", "pdf"),
        (b"PK\x03\x04\x14\x00", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "ole2"),
        (b"%!PS-Adobe-3.0\n", "postscript"),
        (b"ITSF\x03\x00\x00\x00", "chm"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"BZh91AY", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"7z\xbc\xaf\x27\x1c\x00", "7z"),
        (b"Rar!\x1a\x07\x00", "rar"),
        (b"{\\rtf1\\ansi", "rtf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"GIF89a\x01\x00", "gif"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\x00\x00\x00\x18ftypmp42", "mp4"),
        (b"OggS\x00\x02", "ogg"),
        (b"\x1a\x45\xdf\xa3\x9f", "webm"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x7fELF\x02\x01\x01", "elf"),
        (b"MZ\x90\x00\x03", "pe"),
        (b"!<arch>\ndebian-binary   ", "deb"),
        (b"\xed\xab\xee\xdb\x03\x00", "rpm"),
        (b"\x00" * 257 + b"ustar\x0000" + b"\x00" * 20, "tar"),
        (b"Hello, plain text.\nSecond line\n", "text"),
        ("Grüße, ça va?\n".encode(), "text"),
        (b"\xef\xbb\xbfwith a BOM", "text"),
        (b"  <!DOCTYPE html><html><head>", "html"),
        (b"<html><body>", "html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        (b"\x00\x01\x02\x03\x04garbage", None),
        (b"", None),
    ],
)
def test_sniffing_reads_the_magic(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


def test_a_pdf_whose_content_type_and_bytes_agree_passes() -> None:
    verdict = check_type(TINY_PDF, name="a.pdf", content_type="application/pdf")
    assert verdict.ok
    assert (verdict.sniffed, verdict.by_extension, verdict.by_content_type) == ("pdf", "pdf", "pdf")


def test_a_pdf_that_is_html_is_a_mismatch_naming_both_claims() -> None:
    verdict = check_type(
        b"<!doctype html><title>x</title>", name="a.pdf", content_type="application/pdf"
    )
    assert not verdict.ok
    assert verdict.mismatch == (
        "type mismatch: extension says pdf but the content is html;"
        " Content-Type says pdf but the content is html"
    )


def test_generic_content_types_and_unknown_extensions_claim_nothing() -> None:
    assert check_type(
        b"\x00\x01binary", name="blob.bin", content_type="application/octet-stream"
    ).ok
    assert check_type(TINY_PDF, name="a.pdf", content_type="application/octet-stream").ok
    assert check_type(TINY_PDF, name="download", content_type=None).ok


@pytest.mark.parametrize(
    ("head", "name", "content_type", "ok"),
    [
        (
            b"PK\x03\x04",
            "report.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            True,
        ),
        (b"PK\x03\x04", "app.apk", "application/vnd.android.package-archive", True),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "sheet.xls", "application/vnd.ms-excel", True),
        (b"hello", "notes.txt", "text/plain; charset=utf-8", True),
        (b"a,b\n1,2\n", "data.csv", "text/csv", True),
        (b"MZ\x90\x00", "notes.txt", "text/plain", False),  # an executable posing as text
        (b"MZ\x90\x00", "setup.exe", "application/x-msdownload", True),
        (b"\x00\x00garbage", "image.dmg", "application/x-apple-diskimage", True),
        (b"\x00\x00garbage", "old.tar", None, True),  # pre-POSIX tar has no magic
        (b"\x89PNG\r\n\x1a\n", "photo.jpg", "image/jpeg", False),
        (b"\x89PNG\r\n\x1a\n", "photo.png", "text/html", False),
        (b"\x1f\x8b\x08", "src.tgz", "application/gzip", True),
    ],
)
def test_claims_must_agree_with_the_bytes(
    head: bytes, name: str, content_type: str | None, ok: bool
) -> None:
    assert check_type(head, name=name, content_type=content_type).ok is ok


def test_links_are_classed_by_their_extension() -> None:
    assert extension_of("http://h/a/Report.PDF?download=1") == "pdf"
    assert extension_of("http://h/a/") == ""
    assert file_class("http://h/a.pdf") == "documents"
    assert file_class("http://h/a.jpeg") == "media"
    assert file_class("http://h/a.mkv") == "media"
    assert file_class("http://h/a.deb") == "applications"
    assert file_class("http://h/a.tgz") == "archives"
    assert file_class("http://h/a.html") is None
    assert file_class("http://h/page") is None
    assert file_class("http://h/a.pdf", ["media"]) is None


def test_file_hashes_match_hashlib(tmp_path: Path) -> None:
    data = b"x" * (3 * 1024 * 1024 + 17)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert file_hashes(path) == (
        hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )
