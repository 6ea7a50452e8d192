"""What tests across the folders share. The emulator's credentials are written once, here,
taken from the emulator itself (INTERFACE.md fixes their values)."""

from __future__ import annotations

from rcsync.emulator.auth import CLIENT_ID, CLIENT_SECRET, JWT_ASSERTION

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
