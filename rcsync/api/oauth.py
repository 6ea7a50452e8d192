"""The OAuth endpoints' wire format: token/revoke requests and token answers.

Confidential apps authenticate with HTTP Basic (``client_secret_basic``); a public app (no
secret) sends ``client_id`` in the form instead (API-NOTES §2.10). Error answers use the OAuth
shape ``{"error", "error_description", "errors": [{"errorCode": "OAU-…"}]}``; the message we
build names what was wrong (client credentials, JWT/password, expired session) and never
contains a secret — the server's own text is passed through `redact` first.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import httpx

from rcsync.api.errors import LOGIN_HINT, error_details, malformed, response_json
from rcsync.api.tokens import TokenInfo
from rcsync.errors import ApiError, AuthError, RateLimitedError, ServerError

if TYPE_CHECKING:
    from rcsync.api.auth import Credentials

TOKEN_PATH = "/restapi/oauth/token"
REVOKE_PATH = "/restapi/oauth/revoke"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_SECRET_FIELDS = ("assertion", "password", "refresh_token", "token")

_BAD_CLIENT = {"invalid_client", "OAU-146", "OAU-123"}
_GRANT_NOT_ALLOWED = {"unauthorized_client", "unsupported_grant_type", "OAU-112", "OAU-125"}


def _client_auth(creds: Credentials, form: dict[str, str]) -> dict[str, str]:
    if creds.client_secret:
        pair = f"{creds.client_id}:{creds.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    form["client_id"] = creds.client_id
    return {}


def _form_request(
    server: str, path: str, creds: Credentials, form: Mapping[str, str]
) -> httpx.Request:
    body = dict(form)
    headers = {"Accept": "application/json", **_client_auth(creds, body)}
    return httpx.Request("POST", server.rstrip("/") + path, data=body, headers=headers)


def token_request(server: str, creds: Credentials, form: Mapping[str, str]) -> httpx.Request:
    return _form_request(server, TOKEN_PATH, creds, form)


def revoke_request(server: str, creds: Credentials, tokens: TokenInfo) -> httpx.Request:
    # Revoking the access token ends the whole session (refresh token included).
    return _form_request(server, REVOKE_PATH, creds, {"token": tokens.access_token})


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _hint(what: str, codes: set[str], creds: Credentials) -> str:
    if codes & _BAD_CLIENT:
        return "invalid client credentials: check client_id and client_secret"
    if codes & _GRANT_NOT_ALLOWED:
        return (
            f"this app may not use the {creds.grant_name} grant: enable it for the app "
            "in the RingCentral developer console"
        )
    if what.startswith("login"):
        if creds.jwt:
            return "the JWT was rejected: check [ringcentral] jwt (or RCSYNC_JWT)"
        return "the username, extension or password was rejected"
    return f"the session expired or was revoked: {LOGIN_HINT}"


def parse_token_response(
    response: httpx.Response,
    *,
    what: str,
    credentials: Credentials,
    server: str,
    now: float,
    form: Mapping[str, str] | None = None,
) -> TokenInfo:
    """A TokenInfo from a 200, else the matching error (message free of secrets)."""
    status = response.status_code
    data = response_json(response)
    if status == 200:
        try:
            return TokenInfo.from_token_response(
                data, now=now, server=server, client_id=credentials.client_id
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            # Never include the exception text: it could quote a token value.
            raise malformed("getToken", "no valid access_token/expires_in") from None
    code, message = error_details(data)
    rfc = data.get("error") if isinstance(data, Mapping) else None
    secrets = (*credentials.secrets(), *(v for k, v in (form or {}).items() if k in _SECRET_FIELDS))
    detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    detail = redact(detail, secrets)
    if status == 429:
        raise RateLimitedError(f"{what}: {detail}", status=status, code=code)
    if status >= 500:
        raise ServerError(f"{what}: {detail}", status=status, code=code)
    if status in (400, 401, 403):
        hint = _hint(what, {c for c in (code, rfc) if isinstance(c, str)}, credentials)
        raise AuthError(f"{what} failed: {hint} ({detail})", status=status, code=code)
    raise ApiError(f"{what}: {detail}", status=status, code=code)


def check_trusted_host(server: str, url: httpx.URL) -> None:
    """Refuse to put the bearer token on a request to a host outside the server's domain.

    Attachment URIs in records are absolute and may point at another host of the same
    domain (``media.ringcentral.com`` for ``platform.ringcentral.com``); anything else
    would leak the token.
    """
    server_host = httpx.URL(server).host
    host = url.host
    if not host or host == server_host:
        return
    domain = _domain(server_host)
    if domain and host.endswith("." + domain):
        return
    raise ApiError(
        f"refusing to send RingCentral credentials to {host} (not {server_host} or another "
        f"host of its domain)"
    )


def _domain(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else None
