"""A minimal Chrome DevTools Protocol client over aiohttp's websocket, to drive headless Chromium.

Why not a browser-automation package: Debian's chromium plus the protocol's JSON messages is all
a test needs to load a page at phone size, take a screenshot and click a real download button.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Chromium:
    """Headless Chromium with a DevTools port; the browser-level websocket is `self.ws`."""

    def __init__(self, profile: Path, width: int = 390, height: int = 844) -> None:
        self.profile = profile
        self.args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0  # the DevTools port, once started (Lighthouse connects to it)
        self._id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._event_signal = asyncio.Event()

    async def __aenter__(self) -> Chromium:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        port_file = self.profile / "DevToolsActivePort"
        end = time.monotonic() + 60
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            if time.monotonic() > end:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.port = int(port)
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await asyncio.wait_for(self.send("Browser.close"), 10)
        except Exception:
            pass
        self._reader.cancel()
        await self.ws.close()
        await self.session.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                fut = self._pending.pop(data["id"])
                if not fut.done():
                    fut.set_result(data)
            else:
                self.events.append(data)
                self._event_signal.set()

    def page_errors(self) -> list[dict[str, Any]]:
        """Script exceptions, console.error calls and the browser's own errors (a failed load)
        seen so far (with Runtime and Log enabled)."""
        return [
            e
            for e in self.events
            if e.get("method") == "Runtime.exceptionThrown"
            or (
                e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error"
            )
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        ]

    async def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 60,
    ) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self._pending[self._id] = fut
        await self.ws.send_str(json.dumps(msg))
        reply = await asyncio.wait_for(fut, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def wait_event(
        self, method: str, timeout: float = 60, session: str | None = None, **match: Any
    ) -> dict:
        end = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if session is not None and ev.get("sessionId") != session:
                    continue
                if ev.get("method") == method and all(
                    ev.get("params", {}).get(k) == v for k, v in match.items()
                ):
                    return ev["params"]
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} {match} within {timeout}s")
            self._event_signal.clear()
            try:
                await asyncio.wait_for(self._event_signal.wait(), left)
            except TimeoutError:
                pass

    async def new_page(self) -> str:
        """A new tab; returns its flattened session id."""
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        return (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))[
            "sessionId"
        ]

    async def sized_page(
        self,
        width: int = 390,
        height: int = 844,
        domains: tuple[str, ...] = ("Page", "Runtime", "Log"),
        *,
        count_shifts: bool = False,
    ) -> str:
        """A new tab at a screen size (a phone's under 600 px wide) with `domains`' events on
        (Runtime and Log: script exceptions and the console's errors); `count_shifts` adds up
        every layout shift from the first paint in `window.__shifts`."""
        s = await self.new_page()
        for domain in domains:
            await self.send(f"{domain}.enable", {}, s)
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            s,
        )
        if count_shifts:
            await self.send(
                "Page.addScriptToEvaluateOnNewDocument",
                {
                    "source": "window.__shifts = 0; new PerformanceObserver(l => l.getEntries()"
                    ".forEach(e => { if (!e.hadRecentInput) window.__shifts += e.value; }))"
                    ".observe({type: 'layout-shift', buffered: true});"
                },
                s,
            )
        return s

    async def evaluate(self, session: str, expr: str) -> Any:
        r = await self.send(
            "Runtime.evaluate",
            {
                "expression": expr,
                "returnByValue": True,
                "awaitPromise": True,
                # (the test's own errors are not the page's)
                "silent": True,
            },
            session,
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def poll(self, session: str, expr: str, timeout: float = 30) -> Any:
        """Evaluate `expr` until it is truthy; returns that value.

        While a page navigates, its new document briefly has no body, so an expression
        that throws is tried again; the last error is raised if it never comes right."""
        end = time.monotonic() + timeout
        while True:
            failure: RuntimeError | None = None
            try:
                value = await self.evaluate(session, expr)
            except RuntimeError as e:
                failure, value = e, None
            if value:
                return value
            if time.monotonic() > end:
                if failure is not None:
                    raise failure
                raise TimeoutError(f"{expr!r} stayed falsy for {timeout}s")
            await asyncio.sleep(0.1)

    async def axe(self, session: str, source: str) -> dict[str, Any]:
        """axe-core's checks on the page as it is now: `source` is axe.min.js, evaluated in the
        page (DevTools evaluation is not bound by the page's Content-Security-Policy). Every
        rule axe enables by default; returns the violations (rule, impact, the elements and
        why), the rules that passed, and those axe could not decide (with their elements: a
        person looks at those)."""
        await self.evaluate(session, source + ";void 0")
        return await self.evaluate(
            session,
            """axe.run(document, {resultTypes: ['violations']}).then(r => ({
              version: axe.version,
              violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,
                                          why: n.failureSummary}))})),
              passes: r.passes.map(p => p.id),
              incomplete: r.incomplete.map(p => ({id: p.id,
                nodes: p.nodes.map(n => n.target.join(' '))}))}))""",
        )

    async def tap(self, session: str, selector: str) -> None:
        """A real pointer press and release at the centre of the element."""
        x, y = await self.evaluate(
            session,
            f"""(()=>{{const r=document.querySelector(
            {selector!r}).getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2];}})()""",
        )
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                session,
            )


def files_in(folder: Path) -> list[Path]:
    return (
        sorted(p for p in folder.iterdir() if not p.name.endswith(".crdownload"))
        if folder.exists()
        else []
    )
