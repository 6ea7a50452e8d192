"""Headless Chromium over the DevTools protocol, for tests that check what a person sees.

`Browser` starts Debian's ``chromium`` with a throwaway profile and everything that phones
home switched off, and `Browser.visit` loads a page and reports: the requests it made (so a
test can prove none left the machine), console errors, uncaught exceptions and CSP or
loading errors from the log, and the answer of a JavaScript expression evaluated in the page.
Tests skip when Chromium is missing, unless RCSYNC_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--allow-file-access-from-files",
)
PHONE = (390, 844, 3.0, True)
DESKTOP = (1280, 900, 1.0, False)


def chromium_or_skip() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("RCSYNC_REQUIRE_BROWSER") == "1":
        pytest.fail("RCSYNC_REQUIRE_BROWSER=1 but no chromium on PATH")
    pytest.skip(
        "chromium is not installed (apt-get install chromium);"
        " RCSYNC_REQUIRE_BROWSER=1 makes this a failure"
    )


@dataclass
class Visit:
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    value: Any = None


class Browser:
    def __init__(self, executable: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="rcsync-chromium-")
        self._proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._ws = connect(self._page_socket(self._browser_socket()), max_size=64 * 2**20)
        self._next_id = 0

    def _browser_socket(self) -> str:
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                return found.group(1)
            if not line and self._proc.poll() is not None:
                break
        raise RuntimeError("chromium did not start its DevTools endpoint")

    def _page_socket(self, browser_ws: str) -> str:
        import httpx

        port = re.search(r":(\d+)/", browser_ws)
        assert port is not None
        targets = httpx.get(f"http://127.0.0.1:{port.group(1)}/json/list", timeout=10).json()
        return str(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])

    def call(self, method: str, events: list[dict[str, Any]] | None = None, **params: Any) -> Any:
        self._next_id += 1
        me = self._next_id
        self._ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == me:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if events is not None and "method" in message:
                events.append(message)

    def _drain(self, events: list[dict[str, Any]], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        ws: ClientConnection = self._ws
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(ws.recv(timeout=left))
            except TimeoutError:
                return
            if "method" in message:
                events.append(message)

    def visit(
        self,
        url: str,
        expression: str,
        *,
        size: tuple[int, int, float, bool] = DESKTOP,
        screenshot: Path | None = None,
    ) -> Visit:
        events: list[dict[str, Any]] = []
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", events)
        width, height, scale, mobile = size
        self.call(
            "Emulation.setDeviceMetricsOverride",
            events,
            width=width,
            height=height,
            deviceScaleFactor=scale,
            mobile=mobile,
        )
        self.call("Page.navigate", events, url=url)
        deadline = time.monotonic() + 30
        while not any(e["method"] == "Page.loadEventFired" for e in events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: did not load")
            self._drain(events, 0.2)
        self._drain(events, 0.5)  # late requests and console messages
        result = self.call("Runtime.evaluate", events, expression=expression, returnByValue=True)
        if screenshot is not None:
            shot = self.call(
                "Page.captureScreenshot", events, format="png", captureBeyondViewport=False
            )
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return Visit(
            requests=[
                e["params"]["request"]["url"]
                for e in events
                if e["method"] == "Network.requestWillBeSent"
            ],
            errors=_errors(events),
            value=result.get("result", {}).get("value"),
        )

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        p = e["params"]
        if e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            out.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
            )
        elif e["method"] == "Runtime.exceptionThrown":
            out.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif e["method"] == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"load failed: {p.get('errorText')}")
    return out
