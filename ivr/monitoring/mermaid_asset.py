"""Mermaid's browser script for the live monitor's flow graphs, fetched once from the npm registry.

The page draws each flow with Mermaid (``ivr.flow.graph``) and must not fetch anything from
the internet while it runs, so the script is served by the app itself: ``speech-ivr
fetch-mermaid`` downloads the pinned release's package from the npm registry, checks it
against the registry's published SHA-512 and keeps its single-file build in the cache
(``mermaid_script``). Without it the page shows each graph's Mermaid text instead.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import aiohttp

from ivr.cache import default_cache_dir

MERMAID_VERSION = "11.4.1"
MERMAID_URL = f"https://registry.npmjs.org/mermaid/-/mermaid-{MERMAID_VERSION}.tgz"
MERMAID_INTEGRITY = (
    "sha512-Mb01JT/x6CKDWaxigwfZYuYmDZ6xtrNwNlidKZwkSrDaY9n90tdrJTV5Umk+wP1fZscGptmKFXHsXMDEVZ+Q6A=="
)
"""The npm registry's ``dist.integrity`` of that release."""
MEMBER = "package/dist/mermaid.min.js"
MAX_PACKAGE_BYTES = 64 * 1024 * 1024


class MermaidFetchError(RuntimeError):
    """The script could not be fetched or was not the published one (the message says why)."""


def mermaid_script(cache_dir: Path | None = None) -> Path:
    """Where the fetched script is kept (it may not be there)."""
    return (cache_dir or default_cache_dir()) / "assets" / f"mermaid-{MERMAID_VERSION}.min.js"


async def fetch_mermaid(
    cache_dir: Path | None = None, *, url: str = MERMAID_URL, integrity: str = MERMAID_INTEGRITY
) -> Path:
    """Download the package, check it, and keep its script; returns the script's path."""
    target = mermaid_script(cache_dir)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            async with session.get(url) as response:
                if response.status != 200:
                    raise MermaidFetchError(f"{url}: HTTP {response.status}")
                package = b""
                async for chunk in response.content.iter_chunked(1 << 20):
                    package += chunk
                    if len(package) > MAX_PACKAGE_BYTES:
                        break
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise MermaidFetchError(f"{url}: {exc or type(exc).__name__}") from None
    if len(package) > MAX_PACKAGE_BYTES:
        raise MermaidFetchError(f"{url}: more than {MAX_PACKAGE_BYTES // 2**20} MB")
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, package).digest()).decode()
    if digest != expected:
        raise MermaidFetchError(f"{url}: its {algorithm} is not the published one ({integrity})")
    try:
        with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as archive:
            member = archive.extractfile(MEMBER)
            script = member.read() if member is not None else None
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise MermaidFetchError(f"{url}: no {MEMBER} in the package ({exc})") from None
    if script is None:
        raise MermaidFetchError(f"{url}: no {MEMBER} in the package")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(script)
    partial.replace(target)
    return target
