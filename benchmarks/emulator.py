"""Emulator throughput and memory: list records/s at perPage=1000 over loopback HTTP.

For each size (default 100k and 1M messages) a child process builds the emulator, reports
its build time and RSS, and serves it on 127.0.0.1 with rate limits off; this process pages
through the whole history with httpx (following navigation.nextPage) and reports records/s.
Server and client are separate processes so they do not share one GIL.

    python benchmarks/emulator.py [SIZE ...]      e.g. python benchmarks/emulator.py 10000
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

HISTORY = "2000-01-01T00:00:00.000Z"
JWT_FORM = {
    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "assertion": "emulator-jwt",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def server(size: int) -> None:
    """Child: build, report, serve until stdin closes."""
    from rcsync.emulator import Emulator, serve

    started = time.perf_counter()
    emu = Emulator(messages=size, seed=1, rate_limits=False)
    built = time.perf_counter() - started
    with serve(emu, host="127.0.0.1", port=0) as running:
        print(json.dumps({"url": running.url, "build_s": built, "rss_mb": _rss_mb()}), flush=True)
        sys.stdin.read()


def _tail(body: bytes) -> dict:
    """paging + navigation, parsed from the end of a page without parsing the records."""
    return dict(json.loads(b"{" + body[body.rindex(b'"paging":') :]))


def client(url: str, *, parse: bool) -> tuple[int, float]:
    """Page through everything once; (records, seconds).

    ``parse`` json-decodes every page as a sync client would; otherwise only the trailing
    paging/navigation is decoded, so the figure is what the server can serve.
    """
    with httpx.Client(base_url=url, timeout=120) as http:
        token = http.post(
            "/restapi/oauth/token", data=JWT_FORM, auth=("emulator-client", "emulator-secret")
        )
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        count, started = 0, time.perf_counter()
        uri: str | None = "/restapi/v1.0/account/~/extension/~/message-store"
        params: dict[str, str] | None = {"dateFrom": HISTORY, "perPage": "1000"}
        while uri:
            body = http.get(uri, params=params).content
            params = None
            if parse:
                page = json.loads(body)
                count += len(page["records"])
            else:
                page = _tail(body)
                count += page["paging"].get("pageEnd", -1) - page["paging"].get("pageStart", 0) + 1
            uri = page["navigation"].get("nextPage", {}).get("uri")
        return count, time.perf_counter() - started


def measure(size: int, *, parse: bool) -> None:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    info = json.loads(child.stdout.readline())
    try:
        count, seconds = client(info["url"], parse=parse)
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    mode = "client json-decodes pages" if parse else "server-bound (client reads bytes)"
    print(
        f"{size:>9,} messages | build {info['build_s']:6.2f} s | server RSS after build "
        f"{info['rss_mb']:7.1f} MB | {count:,} Alive records in {seconds:6.2f} s = "
        f"{count / seconds:9,.0f} records/s  [{mode}]"
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["--serve"]:
        server(int(argv[1]))
        return
    sizes = [int(a) for a in argv] or [100_000, 1_000_000]
    print(
        "rcsync emulator benchmark: GET message-store, perPage=1000, loopback HTTP, rate limits off"
    )
    for size in sizes:
        measure(size, parse=False)
        measure(size, parse=True)


if __name__ == "__main__":
    main(sys.argv[1:])
