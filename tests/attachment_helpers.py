"""Helpers for the attachment tests: file bodies of each kind, the store's contents, hashes."""
import hashlib
import io
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L" + b"\x00" * 18
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
TEXT = "Log line: caf\u00e9 \u2603\n".encode()
BINARY = b"\x00\x01\x02\xff\xfe binary"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    """A (stream, filename) pair as the test client sends a multipart file."""
    return io.BytesIO(data), name


def stored_files(root: Path) -> dict[str, bytes]:
    """Every file in the store's fan-out folders, by the sha256 its path names."""
    return {path.parent.name + path.name: path.read_bytes()
            for path in root.glob("??/*") if path.is_file() and path.parent.name != "tmp"}


def temp_files(root: Path) -> list[Path]:
    return [path for path in (root / "tmp").glob("*")] if (root / "tmp").is_dir() else []
