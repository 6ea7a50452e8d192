"""RingCentralAuth: self-login, refresh ahead of expiry (saved before use), 401 renewal,
clear errors free of secrets, cross-process/thread refresh coordination, login/logout."""

from __future__ import annotations

import base64
import dataclasses
import threading
from typing import Any

import httpx
import pytest

from rcsync.api import TokenStore, build_client, login, logout
from rcsync.errors import ApiError, AuthError

EXT = "/restapi/v1.0/account/~/extension/~"


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": 101})


def _bearer(seen: Any) -> str:
    return str(seen.headers["authorization"])


def test_logs_in_by_itself_with_jwt(
    fake: Any, make_client: Any, helpers: Any, store: TokenStore
) -> None:
    fake.on("GET", EXT, _ok)
    client = make_client(logged_in=False)
    assert client.read_extension() == {"id": 101}
    token_req, api_req = fake.seen
    assert token_req.form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": helpers.JWT,
    }
    expected = base64.b64encode(f"cid:{helpers.SECRET}".encode()).decode()
    assert token_req.headers["authorization"] == f"Basic {expected}"
    assert _bearer(api_req) == "Bearer at-l1"
    saved = store.load()
    assert saved is not None and saved.access_token == "at-l1" and saved.refresh_token == "rt-l1"
    client.read_extension()
    assert fake.logins == 1  # never a login per request


def test_password_grant_when_no_jwt(fake: Any, make_client: Any, cfg: Any) -> None:
    fake.on("GET", EXT, _ok)
    cfg2 = dataclasses.replace(
        cfg, jwt="", username="+15550100", extension="101", password="pw-SECRET"
    )
    make_client(logged_in=False, cfg_=cfg2).read_extension()
    assert fake.seen[0].form == {
        "grant_type": "password",
        "username": "+15550100",
        "password": "pw-SECRET",
        "extension": "101",
    }


def test_no_credentials_means_not_logged_in(fake: Any, make_client: Any, cfg: Any) -> None:
    client = make_client(logged_in=False, cfg_=dataclasses.replace(cfg, jwt=""))
    with pytest.raises(AuthError, match=r"not logged in: run `rcsync login`"):
        client.read_extension()
    assert fake.seen == []


def test_refresh_ahead_of_expiry_saves_before_use(
    fake: Any, make_client: Any, clock: Any, store: TokenStore, helpers: Any
) -> None:
    on_disk_when_used: list[str | None] = []

    def api(request: httpx.Request) -> httpx.Response:
        tokens = store.load()
        on_disk_when_used.append(tokens.access_token if tokens else None)
        return _ok(request)

    fake.on("GET", EXT, api)
    client = make_client()
    store.save(helpers.valid_tokens(clock, ttl=30))  # inside the 60 s margin
    client.read_extension()
    assert [s.form.get("grant_type") for s in fake.seen[:1]] == ["refresh_token"]
    assert fake.seen[0].form["refresh_token"] == "rt-0"
    assert _bearer(fake.seen[1]) == "Bearer at-r1"
    assert on_disk_when_used == ["at-r1"]  # the new pair was on disk before the API call
    saved = store.load()
    assert saved is not None and saved.refresh_token == "rt-r1"


def test_401_refreshes_once_and_retries(fake: Any, make_client: Any, helpers: Any) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer at-0":
            return helpers.rc_error(401, "OAU-213", "Token not found")
        return _ok(request)

    fake.on("GET", EXT, api)
    assert make_client().read_extension() == {"id": 101}
    assert [s.path for s in fake.seen] == [EXT, "/restapi/oauth/token", EXT]
    assert fake.refreshes == 1


def test_second_401_is_an_auth_error_not_a_loop(fake: Any, make_client: Any, helpers: Any) -> None:
    fake.on("GET", EXT, lambda r: helpers.rc_error(401, "OAU-128", "Access token expired."))
    with pytest.raises(AuthError) as info:
        make_client().read_extension()
    assert "readExtension: HTTP 401 OAU-128" in str(info.value)
    assert "rcsync login" in str(info.value)
    assert len(fake.api()) == 2 and fake.refreshes == 1


def test_expired_refresh_without_jwt_says_run_login(
    fake: Any, make_client: Any, cfg: Any, clock: Any, store: TokenStore, helpers: Any
) -> None:
    client = make_client(cfg_=dataclasses.replace(cfg, jwt=""))
    store.save(helpers.valid_tokens(clock, ttl=-10, refresh_ttl=-5))
    with pytest.raises(AuthError) as info:
        client.read_extension()
    msg = str(info.value)
    assert "run `rcsync login`" in msg and "\n" not in msg
    assert fake.seen == []


def test_revoked_refresh_without_jwt(
    fake: Any, make_client: Any, cfg: Any, clock: Any, store: TokenStore, helpers: Any
) -> None:
    fake.on(
        "POST",
        "/restapi/oauth/token",
        lambda r: helpers.oauth_error(400, "invalid_grant", "OAU-210", "Token expired"),
    )
    client = make_client(cfg_=dataclasses.replace(cfg, jwt=""))
    store.save(helpers.valid_tokens(clock, ttl=10))
    with pytest.raises(AuthError, match=r"session expired or revoked \(OAU-210\): run `rcsync"):
        client.read_extension()


def test_rejected_refresh_falls_back_to_jwt_login(
    fake: Any, make_client: Any, clock: Any, store: TokenStore, helpers: Any
) -> None:
    def token(request: httpx.Request) -> httpx.Response:
        if "refresh_token" in request.content.decode():
            return helpers.oauth_error(400, "invalid_grant", "OAU-210", "Token expired")
        return helpers.token_response("at-jwt", "rt-jwt")

    fake.on("POST", "/restapi/oauth/token", token)
    fake.on("GET", EXT, _ok)
    client = make_client()
    store.save(helpers.valid_tokens(clock, ttl=10))
    client.read_extension()
    assert _bearer(fake.seen[-1]) == "Bearer at-jwt"


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [
        ("invalid_client", "OAU-146", "invalid client credentials"),
        ("invalid_grant", "OAU-140", "the JWT was rejected"),
        ("unauthorized_client", "OAU-125", "may not use the JWT grant"),
    ],
)
def test_token_errors_name_the_problem_without_secrets(
    fake: Any, make_client: Any, helpers: Any, error: str, code: str, expected: str
) -> None:
    # A hostile/buggy server echoing secrets back must not make us print them.
    echo = f"bad {helpers.SECRET} {helpers.JWT}"
    fake.on("POST", "/restapi/oauth/token", lambda r: helpers.oauth_error(401, error, code, echo))
    with pytest.raises(AuthError) as info:
        make_client(logged_in=False).read_extension()
    msg = str(info.value)
    assert expected in msg and code in msg
    assert helpers.SECRET not in msg and helpers.JWT not in msg


def test_secrets_and_tokens_never_logged(
    fake: Any, make_client: Any, helpers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on("GET", EXT, lambda r: helpers.rc_error(401, "OAU-128", "expired"))
    caplog.set_level("DEBUG", logger="rcsync")
    with pytest.raises(AuthError):
        make_client(logged_in=False).read_extension()
    text = caplog.text
    for secret in (helpers.SECRET, helpers.JWT, "at-l1", "rt-l1", "at-r1", "rt-r1"):
        assert secret not in text


def test_other_process_already_refreshed(
    fake: Any, make_client: Any, clock: Any, store: TokenStore, helpers: Any
) -> None:
    fake.on("GET", EXT, _ok)
    client = make_client()
    store.save(helpers.valid_tokens(clock, ttl=10))
    auth = client.session.http.auth
    auth._tokens = store.load()  # this process holds the old, expiring pair in memory
    # ... while another process refreshes and writes its new pair to the file.
    store.save(helpers.valid_tokens(clock, access="at-other", refresh="rt-other"))
    client.read_extension()
    assert fake.refreshes == 0
    assert _bearer(fake.seen[-1]) == "Bearer at-other"


def test_concurrent_refreshes_spend_the_refresh_token_once(
    fake: Any, cfg: Any, clock: Any, helpers: Any
) -> None:
    """Two clients with separate auths (as two processes) share one token file."""
    used: list[str] = []
    lock = threading.Lock()

    def token(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        with lock:
            if form["refresh_token"] in used:
                return helpers.oauth_error(400, "invalid_grant", "OAU-211", "Token revoked")
            used.append(form["refresh_token"])
            n = len(used)
        return helpers.token_response(f"at-r{n}", f"rt-r{n}")

    fake.on("POST", "/restapi/oauth/token", token)
    fake.on("GET", EXT, _ok)
    TokenStore(cfg.token_file).save(helpers.valid_tokens(clock, ttl=10))
    cfg_no_jwt = dataclasses.replace(cfg, jwt="")
    clients = [
        build_client(
            cfg_no_jwt, transport=httpx.MockTransport(fake), clock=clock, sleep=clock.sleep
        )
        for _ in range(4)
    ]
    errors: list[BaseException] = []

    def run(c: Any) -> None:
        try:
            c.read_extension()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert used == ["rt-0"]


def test_bearer_is_not_sent_to_foreign_hosts(fake: Any, make_client: Any) -> None:
    client = make_client()
    with pytest.raises(ApiError, match=r"refusing to send RingCentral credentials to evil"):
        client.session.http.get("https://evil.example/steal")
    assert fake.seen == []


def test_media_host_of_same_domain_gets_bearer(fake: Any, make_client: Any) -> None:
    fake.on("GET", "/media", _ok)
    make_client().session.http.get("https://media.ringcentral.com/media")
    assert _bearer(fake.seen[-1]) == "Bearer at-0"


def test_login_and_logout(fake: Any, cfg: Any, store: TokenStore, helpers: Any) -> None:
    revoked: list[dict[str, str]] = []

    def revoke(request: httpx.Request) -> httpx.Response:
        revoked.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(200)

    fake.on("POST", "/restapi/oauth/revoke", revoke)
    http = httpx.Client(base_url=helpers.SERVER, transport=httpx.MockTransport(fake))
    tokens = login(http, cfg, store)
    assert tokens.access_token == "at-l1" and store.load() == tokens
    assert logout(http, cfg, store) is True
    assert revoked == [{"token": "at-l1"}]
    assert store.load() is None


def test_logout_ignores_revoke_errors_but_clears(
    fake: Any, cfg: Any, store: TokenStore, clock: Any, helpers: Any
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    fake.on("POST", "/restapi/oauth/revoke", broken)
    store.save(helpers.valid_tokens(clock))
    http = httpx.Client(base_url=helpers.SERVER, transport=httpx.MockTransport(fake))
    assert logout(http, cfg, store) is False
    assert store.load() is None


def test_login_without_jwt_is_a_clear_error(
    fake: Any, cfg: Any, store: TokenStore, helpers: Any
) -> None:
    http = httpx.Client(base_url=helpers.SERVER, transport=httpx.MockTransport(fake))
    with pytest.raises(AuthError, match="no JWT configured"):
        login(http, dataclasses.replace(cfg, jwt=""), store)


def test_token_requests_use_the_auth_budget(fake: Any, make_client: Any) -> None:
    fake.on("GET", EXT, _ok)
    client = make_client(logged_in=False)
    client.read_extension()
    stats = client.budget.stats()
    assert stats["Auth"].requests == 1 and stats["Light"].requests == 1


def test_token_endpoint_429_is_waited_out(fake: Any, make_client: Any, helpers: Any) -> None:
    calls = {"n": 0}

    def token(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return helpers.rc_error(
                429, "CMN-301", "Request rate exceeded", **{"Retry-After": "20"}
            )
        return helpers.token_response()

    fake.on("POST", "/restapi/oauth/token", token)
    fake.on("GET", EXT, _ok)
    client = make_client(logged_in=False)
    client.read_extension()
    first, second = fake.seen[:2]
    assert second.time - first.time >= 20
    assert client.budget.stats()["Auth"].throttled == 1
