"""Connecting to ARI with aioari, and telling "the call is gone" from real failures."""

from __future__ import annotations

import base64

import aioari
import aiohttp
from aiohttp import web_exceptions
from aioswagger11.http_client import AsynchronousHttpClient

from ivr.settings import Settings

ARI_CONNECTIONS = 16
"""HTTP connections to ARI at most, kept open and reused; more requests wait for one. Asterisk
accepts HTTP connections with a listen backlog of 10: a hundred calls arriving together each
opening connections for their set-up requests overflowed it, and connections then took
seconds (SYN retries) or failed after the 10 s connect timeout. (The requests that can wait
inside Asterisk, behind a playing prompt, are sent after the prompt was stopped.)"""
GONE_STATUSES = frozenset({404, 409})
"""404: the channel or playback no longer exists; 409: the channel already left Stasis."""


class AriUnavailable(ConnectionError):
    pass


class AriRefused(AriUnavailable):
    """Asterisk answered but will not serve us (a wrong password, ARI disabled): trying again
    will not help, unlike a connection that failed."""


async def connect(settings: Settings) -> aioari.Client:
    """An aioari client authenticated with HTTP basic auth.

    aioari's own ``connect`` puts the credentials in every URL's query string (``api_key``),
    where proxies and error messages may show them; a basic-auth session keeps them in a
    header, for REST calls and the events websocket alike.
    """
    http_client = AsynchronousHttpClient()
    await http_client.session.close()
    http_client.session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=ARI_CONNECTIONS),
        headers=auth_headers(settings),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),  # waiting for a pooled one is not a failure
    )
    client = aioari.Client(settings.ari_url, http_client)
    try:
        await client.init()
    except web_exceptions.HTTPUnauthorized as exc:
        await http_client.close()
        raise AriRefused(
            f"ARI at {settings.ari_url} refused user {settings.ari_user!r} (HTTP 401): "
            "check the user in ari.conf and the password (ari_password or ari_password_file)"
        ) from exc
    except web_exceptions.HTTPNotFound as exc:
        await http_client.close()
        raise AriRefused(
            f"{settings.ari_url} has no ARI (HTTP 404): enable it in ari.conf ([general] "
            "enabled = yes) and http.conf, or check the URL (Asterisk's HTTP server, e.g. "
            "http://127.0.0.1:8088/)"
        ) from exc
    except (aiohttp.ClientError, OSError, web_exceptions.HTTPException) as exc:
        await http_client.close()
        raise AriUnavailable(f"ARI at {settings.ari_url} is not reachable: {exc}") from exc
    return client


def auth_headers(settings: Settings) -> dict[str, str]:
    """The HTTP basic ``Authorization`` header of the settings' ARI user."""
    credentials = f"{settings.ari_user}:{settings.ari_password.get_secret_value()}"
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def is_gone(exc: BaseException) -> bool:
    """Did an ARI request fail because its channel or playback is gone (not a real error)?"""
    return isinstance(exc, web_exceptions.HTTPException) and exc.status in GONE_STATUSES
