"""Fake model trees and zips, and a local HTTP server to download them from: no test here goes
to the network.

A fake model has a model's layout (``am/``, ``conf/``, ``graph/``) but not a usable model: enough
for everything but vosk itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import test_utils, web

FAKE_NAME = "vosk-model-small-xx-0.1"


def fake_model(top: str = FAKE_NAME) -> dict[str, bytes]:
    """The members of a model zip in alphacephei's layout (one top folder; ``""`` for none)."""
    prefix = f"{top}/" if top else ""
    return {
        f"{prefix}am/final.mdl": os.urandom(64 << 10),
        f"{prefix}conf/model.conf": b"--sample-frequency=16000\n",
        f"{prefix}graph/words.txt": b"<eps> 0\nhello 1\n",
        f"{prefix}README": b"a fake model\n",
    }


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_tree(root: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


def models_in(cache: Path) -> list[str]:
    """Everything in the cache's models directory: no zip, partial file or scratch dir is left."""
    models = cache / "models"
    return sorted(path.name for path in models.iterdir()) if models.is_dir() else []


@dataclass
class ModelServer:
    """Serves files (with Range support), JSON documents, and files that break off half way."""

    url: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    documents: dict[str, object] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def serve(self, path: Path) -> str:
        self.files[path.name] = path
        return f"{self.url}/{path.name}"

    def serve_json(self, name: str, document: object) -> str:
        self.documents[name] = document
        return f"{self.url}/{name}"

    def serve_broken(self, path: Path) -> str:
        """The URL of ``path`` sent only half, then the connection closed."""
        self.files[path.name] = path
        return f"{self.url}/broken/{path.name}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.requests.append(request.path)
        if name in self.documents:
            return web.Response(text=json.dumps(self.documents[name]))
        if name not in self.files:
            raise web.HTTPNotFound()
        return web.FileResponse(self.files[name])

    async def handle_broken(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        data = self.files[request.match_info["name"]].read_bytes()
        response = web.StreamResponse()
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        assert request.transport is not None
        request.transport.close()
        return response


@pytest.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    server = ModelServer()
    app = web.Application()
    app.router.add_get("/broken/{name}", server.handle_broken)
    app.router.add_get("/{name}", server.handle)
    running = test_utils.TestServer(app)
    await running.start_server()
    server.url = str(running.make_url("")).rstrip("/")
    yield server
    await running.close()


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections: bound (nobody else takes it), not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
