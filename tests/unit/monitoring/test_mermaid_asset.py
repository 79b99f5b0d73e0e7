"""Fetching Mermaid's script from a package registry: checked against its integrity, or refused."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.monitoring.mermaid_asset import MEMBER, MermaidFetchError, fetch_mermaid, mermaid_script

SCRIPT = b"window.mermaid = {};"


def package(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
async def registry() -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """A local registry serving the tarballs put in its dict."""
    files: dict[str, bytes] = {}

    async def serve(request: web.Request) -> web.Response:
        data = files.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("/")), files
    await server.close()


async def test_the_script_is_kept_when_the_package_is_the_published_one(registry, tmp_path: Path) -> None:
    url, files = registry
    files["m.tgz"] = package({MEMBER: SCRIPT, "package/README.md": b"x"})
    path = await fetch_mermaid(tmp_path, url=url + "m.tgz", integrity=integrity(files["m.tgz"]))
    assert path == mermaid_script(tmp_path) and path.read_bytes() == SCRIPT


async def test_a_package_that_is_not_the_published_one_is_refused(registry, tmp_path: Path) -> None:
    url, files = registry
    files["m.tgz"] = package({MEMBER: SCRIPT})
    with pytest.raises(MermaidFetchError, match="not the published one"):
        await fetch_mermaid(tmp_path, url=url + "m.tgz", integrity=integrity(b"another"))
    assert not mermaid_script(tmp_path).exists()


async def test_a_missing_package_or_script_says_so(registry, tmp_path: Path) -> None:
    url, files = registry
    with pytest.raises(MermaidFetchError, match="HTTP 404"):
        await fetch_mermaid(tmp_path, url=url + "gone.tgz")
    files["empty.tgz"] = package({"package/README.md": b"x"})
    with pytest.raises(MermaidFetchError, match="no package/dist/mermaid.min.js"):
        await fetch_mermaid(tmp_path, url=url + "empty.tgz", integrity=integrity(files["empty.tgz"]))
