"""The emulator's account, written once: its credentials (taken from the emulator itself;
INTERFACE.md fixes their values), the server it pretends to be, and the API paths."""

from __future__ import annotations

from rcsync.emulator.auth import CLIENT_ID, CLIENT_SECRET, JWT_ASSERTION

#: The URL the in-process emulator answers for (any host works; this is RingCentral's).
SERVER = "https://platform.ringcentral.com"
STORE_PATH = "/restapi/v1.0/account/~/extension/~/message-store"
SYNC_PATH = "/restapi/v1.0/account/~/extension/~/message-sync"

JWT = JWT_ASSERTION

#: Keyword arguments of `RingCentralConfig` that log in to the emulator with its JWT.
EMULATOR_CREDENTIALS = {
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "jwt": JWT_ASSERTION,
}

#: The same, as lines of a config file's [ringcentral] table.
EMULATOR_TOML = (
    f'client_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\njwt = "{JWT_ASSERTION}"\n'
)

#: The same, as the environment variables rcsync reads.
EMULATOR_ENV = {
    "RCSYNC_CLIENT_ID": CLIENT_ID,
    "RCSYNC_CLIENT_SECRET": CLIENT_SECRET,
    "RCSYNC_JWT": JWT_ASSERTION,
}

#: HTTP Basic client authentication at the emulator's token endpoint.
CLIENT_AUTH = (CLIENT_ID, CLIENT_SECRET)

#: The token request body of a JWT login.
JWT_FORM = {
    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "assertion": JWT_ASSERTION,
}

__all__ = [
    "CLIENT_AUTH",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "EMULATOR_CREDENTIALS",
    "EMULATOR_ENV",
    "EMULATOR_TOML",
    "JWT",
    "JWT_FORM",
    "SERVER",
    "STORE_PATH",
    "SYNC_PATH",
]
