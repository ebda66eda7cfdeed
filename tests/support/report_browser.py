"""A real headless browser for the report's HTML: Debian's chromium, driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: fd 3 carries commands in, fd 4 replies out,
one JSON message per NUL-terminated chunk), with no websocket library.

``render(html_path, screenshot)`` opens the file, waits for its load event, decodes every image,
and returns what the page showed: console messages, exceptions, log entries, the URL of every
request, each image's natural size, the text of the verdict, and a full-page PNG screenshot.
``find_chromium()`` is None where no browser is installed (scripts/install-chromium.sh installs it).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CHECK_JS = """
(async () => {
  const images = [...document.images];
  const decoded = [];
  for (const img of images) {
    let error = null;
    try { await img.decode(); } catch (e) { error = String(e); }
    decoded.push({figure: img.closest('figure') ? img.closest('figure').id : null, complete: img.complete,
                  width: img.naturalWidth, height: img.naturalHeight, shown_width: img.width,
                  src_scheme: img.src.split(':')[0], error});
  }
  const verdict = document.getElementById('verdict');
  const sentences = [...document.querySelectorAll('#verdict-sentences li')].map(li => li.textContent);
  return JSON.stringify({images: decoded, sentences, title: document.title,
                         verdict_heading: verdict ? verdict.textContent : null,
                         height: document.documentElement.scrollHeight,
                         width: document.documentElement.scrollWidth,
                         text: document.body.innerText});
})()
"""


def find_chromium() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class Rendered:
    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled
    exceptions: list[dict[str, Any]] = field(default_factory=list)  # Runtime.exceptionThrown
    log: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    failed: list[dict[str, Any]] = field(default_factory=list)  # Network.loadingFailed
    page: dict[str, Any] = field(default_factory=dict)  # CHECK_JS's answer
    screenshot: Path | None = None

    @property
    def errors(self) -> list[str]:
        out = [
            f"console.{c.get('type')}: {c.get('args')}"
            for c in self.console
            if c.get("type") in ("error", "warning", "assert")
        ]
        out += [f"exception: {e.get('exceptionDetails', {}).get('text')}" for e in self.exceptions]
        out += [
            f"log {e['entry'].get('level')}: {e['entry'].get('text')}"
            for e in self.log
            if e.get("entry", {}).get("level") in ("error", "warning")
        ]
        out += [f"request failed: {f}" for f in self.failed]
        return out


class _Pipe:
    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int):
        self.proc, self.w, self.r = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the browser did not answer in time")
            ready, _, _ = select.select([self.r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"the browser closed the pipe (exit {self.proc.poll()})")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        mid = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 60) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == name:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("method") == name:
                return msg
            if "method" in msg:
                self.events.append(msg)


def render(html_path: Path, screenshot: Path, *, width: int = 1280, timeout: float = 120) -> Rendered:
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium")
    profile = tempfile.mkdtemp(prefix="xcost-chromium-")
    to_r, to_w = os.pipe()  # commands: we write to_w, the browser reads fd 3
    from_r, from_w = os.pipe()  # replies: the browser writes fd 4, we read from_r
    # The browser's ends moved above 9, so the redirections below cannot clobber them (bash: dash takes
    # one-digit fds only).
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_r, from_w)]
    os.close(to_r)
    os.close(from_w)
    to_r, from_w = high
    args = [
        browser,
        "--headless",
        "--remote-debugging-pipe",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},900",
        "about:blank",
    ]
    # fd 3 and fd 4 in the browser, whatever numbers the pipes have here.
    shell = f'exec "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-'
    proc = subprocess.Popen(
        [shutil.which("bash") or "bash", "-c", shell, "bash", *args],
        pass_fds=(to_r, from_w),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(to_r)
    os.close(from_w)
    pipe = _Pipe(proc, to_w, from_r)
    out = Rendered()
    try:
        deadline = time.monotonic() + timeout
        targets = []
        while not targets:
            targets = [t for t in pipe.call("Target.getTargets", timeout=timeout)["targetInfos"] if t["type"] == "page"]
            if not targets:
                if time.monotonic() > deadline:
                    raise TimeoutError("the browser opened no page")
                time.sleep(0.2)
        session = pipe.call("Target.attachToTarget", {"targetId": targets[0]["targetId"], "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.call("Page.navigate", {"url": html_path.resolve().as_uri()}, session=session)
        pipe.wait_event("Page.loadEventFired", timeout=timeout)
        got = pipe.call(
            "Runtime.evaluate",
            {"expression": CHECK_JS, "awaitPromise": True, "returnByValue": True},
            session=session,
            timeout=timeout,
        )
        out.page = json.loads(got["result"]["value"])
        height = min(int(out.page.get("height") or 900), 16000)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}  # a long page: its first 16,000 px
        shot = pipe.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            session=session,
            timeout=timeout,
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        out.screenshot = screenshot
        pipe.call("Runtime.evaluate", {"expression": "1"}, session=session)  # flush late events
        for e in pipe.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                out.console.append(
                    {
                        "type": params.get("type"),
                        "args": [a.get("value", a.get("description")) for a in params.get("args", [])],
                    }
                )
            elif method == "Runtime.exceptionThrown":
                out.exceptions.append(params)
            elif method == "Log.entryAdded":
                out.log.append(params)
            elif method == "Network.requestWillBeSent":
                out.requests.append(params.get("request", {}).get("url", ""))
            elif method == "Network.loadingFailed":
                out.failed.append({"error": params.get("errorText"), "blocked": params.get("blockedReason")})
        try:
            pipe.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError):
            pass
    finally:
        os.close(to_w)
        os.close(from_r)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        shutil.rmtree(profile, ignore_errors=True)
    return out
