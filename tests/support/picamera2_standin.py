"""A stand-in for picamera2's Picamera2 that behaves like its job queue (picamera2 0.3.36,
picamera2/picamera2.py and picamera2/job.py, read from the upstream source).

What it copies, because the kiosk's backend depends on it:
- every capture/switch/stop is a Job of functions run *in order* by an event loop thread; the
  loop runs when a frame arrives, or when `dispatch_functions` prods it (the only job, with
  completed requests waiting or `immediate=True`). A function that needs a frame returns
  (False, None) and the job — and every job queued behind it — waits.
- `wait=None` blocks forever, `wait=N` raises concurrent.futures.TimeoutError after N s and
  leaves the job queued; `stop()` dispatches its own job with `wait=True`, so it waits behind a
  stuck job; `cancel_all_and_flush()` cancels every queued job (CancelledError for waiters).
- `close()` stops, then releases the camera; a second Picamera2 while one holds the camera
  fails like libcamera's acquire (RuntimeError "Camera __init__ sequence did not complete.").
- configurations are dicts with `use_case`; `configure()` refuses while started and allocates
  buffers through the allocator (PersistentAllocator keeps them per use case); a lores stream
  must be YUV and no larger than main (the Pi 4 rules); a mode switch costs `switch_s` before
  the first frame.
- arrays: BGR888 is R,G,B in numpy order, RGB888 B,G,R, XRGB8888 B,G,R,X; YUV420 is
  (h * 3/2, stride) bytes; the configuration's transform flips the scene; requests carry
  SensorTimestamp/ExposureTime metadata and must be released.
- `queue=True` (the default) with more than one buffer keeps the last completed request, so a
  capture is answered at once by a frame that came before it; `queue=False` keeps none, and a
  capture waits for the next frame (Picamera2.configure_ sets `_max_queue_len` so).

What the rig adds for tests: `stall()` (frames stop; the event loop still runs prodded jobs,
as when a cable comes loose), `wedge()` (the event loop itself hangs: nothing runs any more),
and counters of what happened. Both return only once no further frame can complete, so what a
test finds queued after them is all there will be (a real camera may still complete a frame
already in flight; here that frame lands before they return, never after).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from kiosk.camera.picam import PicameraApi

AF_CONTINUOUS = 2  # libcamera's AfModeEnum.Continuous
# The `{}` defaults of upstream's create_*_configuration(main={}, controls={}, sensor={}): empty,
# and read-only, so a default can never be changed by one call and seen by the next.
EMPTY: Mapping[str, Any] = MappingProxyType({})


def unregister(hooks: list, fn) -> None:
    """`atexit.unregister` on the rig's registry (equal bound methods match, as in atexit)."""
    hooks[:] = [h for h in hooks if h != fn]


@dataclass
class Rig:
    """One camera on the ribbon, and what the test does to it."""

    sensor: tuple[int, int] = (4056, 3040)  # the HQ camera
    autofocus: bool = False  # Camera Module 3 offers AfMode, the HQ camera does not
    fps: float = 30.0
    switch_s: float = 0.3  # first frame after a mode switch (0.5–0.7 s on a real Pi)
    fail_opens: int = 0  # the next N opens fail (camera still probing, cable out)
    stalled: bool = False
    wedged: bool = False
    heal_on_reopen: bool = True  # a stall is cleared by closing and reopening the camera
    holder: StandInPicamera2 | None = None  # the instance that has the camera acquired
    opened: int = 0
    closed: int = 0
    allocations: list[str] = field(default_factory=list)
    switches: list[str] = field(default_factory=list)
    switch_callers: list[str] = field(default_factory=list)  # thread names that asked
    controls_seen: list[dict] = field(default_factory=list)
    transforms: list[tuple[bool, bool]] = field(default_factory=list)
    frames: list[tuple[int, float]] = field(default_factory=list)  # (seq, monotonic time)
    # Real Picamera2.__init__ ends with atexit.register(self.close) and close() unregisters it:
    # a camera whose close never ran is closed again at interpreter exit (joining its threads).
    # The stand-in keeps that registry here, so a wedged stand-in cannot hang pytest's exit.
    exit_hooks: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Held by the event loop while it completes a frame and runs the jobs it answers: stall()
    # and wedge() take it, so a frame begun before them is queued before they return.
    frame_gate: threading.Lock = field(default_factory=threading.Lock)

    def stall(self) -> None:
        with self.frame_gate:
            self.stalled = True

    def wedge(self) -> None:
        with self.frame_gate:
            self.stalled = self.wedged = True

    def api(self) -> PicameraApi:
        return PicameraApi(
            open=lambda alloc: StandInPicamera2(self, alloc),
            allocator=PersistentAllocator,
            transform=lambda h, v: (bool(h), bool(v)),
            af_continuous=AF_CONTINUOUS,
            timeout_errors=(FutureTimeout,),
        )


class PersistentAllocator:
    """Buffers allocated once per use case, kept across configure() calls (like upstream)."""

    def __init__(self) -> None:
        self.buffers: dict[str, int] = {}
        self.rig: Rig | None = None

    def allocate(self, config: dict, use_case: str) -> None:
        if use_case not in self.buffers:
            self.buffers[use_case] = config["buffer_count"]
            if self.rig is not None:
                self.rig.allocations.append(use_case)

    def close(self) -> None:
        self.buffers.clear()


class _OneShotAllocator(PersistentAllocator):
    """picamera2's default DmaAllocator: every configure() allocates afresh."""

    def allocate(self, config: dict, use_case: str) -> None:
        if self.rig is not None:
            self.rig.allocations.append(use_case)


class Job:
    """picamera2.job.Job: functions run one per event-loop pass until each returns done."""

    def __init__(self, functions: list) -> None:
        self._functions = list(functions)
        self._future: Future = Future()
        self._future.set_running_or_notify_cancel()
        self._result = None

    def execute(self) -> bool:
        try:
            while self._functions:
                done, result = self._functions[0]()
                if not done:
                    break
                self._functions.pop(0)
            if not self._functions:
                self._result = result
        except Exception as exc:
            self._future.set_exception(exc)
            self._functions = []
        return not self._functions

    def signal(self) -> None:
        if not self._future.done():
            self._future.set_result(self._result)

    def get_result(self, timeout: float | None = None) -> Any:
        return self._future.result(timeout=timeout)

    def cancel(self) -> None:
        if not self._future.done():
            self._future.set_exception(CancelledError())


class CompletedRequest:
    def __init__(self, cam: StandInPicamera2, seq: int, config: dict, t_ns: int) -> None:
        self.cam, self.seq, self.config = cam, seq, config
        self.metadata = {"SensorTimestamp": t_ns, "ExposureTime": 10_000}
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        """A copy of the stream's buffer (made only when asked: 12 MP every frame would make
        the stand-in, not the backend, the slow part)."""
        if self.released:
            raise RuntimeError("request already released")
        arrays = _stream_arrays(self.config, self.seq, name)
        if name not in arrays:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return arrays[name]

    def get_metadata(self) -> dict:
        return dict(self.metadata)

    def release(self) -> None:
        if self.released:
            raise RuntimeError("CompletedRequest: lock now has negative ref_count")
        self.released = True
        self.cam.released += 1


_RED_CHANNEL = {"BGR888": 0, "XBGR8888": 0, "RGB888": 2, "XRGB8888": 2}


def scene(size: tuple[int, int], seq: int, transform: Any) -> np.ndarray:
    """One frame of the scene as R,G,B: red, the frame number in G, and a blue patch in the
    top-right quarter as the sensor sees it, so a flip shows (the transform's hflip moves it
    left, vflip down), like libcamera's Transform applied in the sensor or ISP."""
    w, h = size
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, :, 0] = 200
    rgb[:, :, 1] = seq % 256
    rgb[: h // 4, w - w // 4 :, 2] = 255
    hflip, vflip = transform if isinstance(transform, tuple) else (False, False)
    if hflip:
        rgb = rgb[:, ::-1]
    if vflip:
        rgb = rgb[::-1]
    return np.ascontiguousarray(rgb)


def _stream_arrays(config: dict, seq: int, name: str) -> dict:
    """Arrays for one frame of the scene, in the format's channel order (picamera2 names
    formats by memory order: BGR888 arrays are R,G,B, RGB888 arrays B,G,R; the X formats add
    a fourth byte)."""
    out = {}
    if name == "main":
        fmt = config["main"]["format"]
        if fmt not in _RED_CHANNEL:
            raise RuntimeError(f"stand-in: main format {fmt!r} is not modelled")
        rgb = scene(config["main"]["size"], seq, config["transform"])
        main = rgb if _RED_CHANNEL[fmt] == 0 else rgb[:, :, ::-1]
        if fmt.startswith("X"):
            main = np.dstack([main, np.full(main.shape[:2], 255, np.uint8)])
        out["main"] = np.ascontiguousarray(main)
    if config.get("lores") is not None and name == "lores":
        lw, lh = config["lores"]["size"]
        stride = (lw + 63) // 64 * 64  # the ISP pads rows
        rgb = np.zeros((lh, stride, 3), np.uint8)
        rgb[:, :lw] = scene((lw, lh), seq, config["transform"])
        out["lores"] = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    return out


class StandInPicamera2:
    def __init__(self, rig: Rig, allocator: Any = None) -> None:
        with rig.lock:
            if rig.fail_opens > 0:
                rig.fail_opens -= 1
                raise RuntimeError("Camera __init__ sequence did not complete.") from RuntimeError(
                    "Camera(s) not found"
                )
            if rig.holder is not None:
                raise RuntimeError("Camera __init__ sequence did not complete.") from RuntimeError(
                    "Failed to acquire camera: Device or resource busy"
                )
            rig.holder = self
            rig.opened += 1
            if rig.heal_on_reopen:
                rig.stalled = rig.wedged = False
        self.rig = rig
        self.allocator = allocator if allocator is not None else _OneShotAllocator()
        self.allocator.rig = rig
        self.sensor_resolution = rig.sensor
        self.camera_controls: dict[str, tuple[int, int, int | None]] = {
            "ExposureTime": (1, 1_000_000, None)
        }
        if rig.autofocus:
            self.camera_controls["AfMode"] = (0, 2, 0)
        self.camera_config: dict = {}
        self.started = False
        self.is_open = True
        self.lock = threading.Lock()  # protects _job_list and completed_requests
        self._job_list: list[Job] = []
        self.completed_requests: list[CompletedRequest] = []
        self._max_queue_len = 1
        self._seq = 0
        self._next_frame = 0.0
        self.released = 0
        rig.exit_hooks.append(self.close)
        self._wake = threading.Event()
        self._loop_running = True
        threading.Thread(target=self._event_loop, name="standin-picamera2", daemon=True).start()

    # ---------------------------------------------------------------- configurations
    def _config(
        self,
        use_case: str,
        main: Mapping[str, Any],
        lores: Mapping[str, Any] | None,
        transform: Any,
        buffer_count: int,
        controls: Mapping[str, Any],
        sensor: Mapping[str, Any] | None,
        queue: bool,
    ) -> dict:
        main = {"format": "XBGR8888", "size": (640, 480), **main}
        if lores is not None:
            lores = {"format": "YUV420", "size": main["size"], **lores}
        return {
            "use_case": use_case,
            "main": main,
            "lores": lores,
            "transform": transform,
            "buffer_count": buffer_count,
            "controls": dict(controls),
            "sensor": None if sensor is None else dict(sensor),
            "queue": queue,
        }

    def create_preview_configuration(
        self,
        main=EMPTY,
        lores=None,
        transform=(False, False),
        buffer_count=4,
        controls=EMPTY,
        sensor=EMPTY,
        queue=True,
        **kw,
    ) -> dict:
        return self._config(
            "preview", main, lores, transform, buffer_count, controls, sensor, queue
        )

    def create_still_configuration(
        self,
        main=EMPTY,
        lores=None,
        transform=(False, False),
        buffer_count=1,
        controls=EMPTY,
        sensor=EMPTY,
        queue=True,
        **kw,
    ) -> dict:
        main = {"format": "BGR888", "size": self.sensor_resolution, **main}
        return self._config("still", main, lores, transform, buffer_count, controls, sensor, queue)

    def configure_(self, config: dict) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        lores = config.get("lores")
        if lores is not None:
            if lores["format"] not in ("YUV420", "YVU420"):
                raise RuntimeError("lores stream must be YUV")
            if (
                lores["size"][0] > config["main"]["size"][0]
                or lores["size"][1] > config["main"]["size"][1]
            ):
                raise RuntimeError("lores stream dimensions may not exceed main stream")
        for w, h in [config["main"]["size"]] + ([lores["size"]] if lores else []):
            if w % 2 or h % 2:
                raise RuntimeError("width and height should be even")
        self.allocator.allocate(config, config["use_case"])
        self.camera_config = config
        self._max_queue_len = 1 if config["queue"] and config["buffer_count"] > 1 else 0
        self.rig.controls_seen.append(dict(config["controls"]))
        self.rig.transforms.append(config["transform"])

    def configure(self, config: dict) -> None:
        self.configure_(config)

    def set_controls(self, controls: dict) -> None:
        if "AfMode" in controls and "AfMode" not in self.camera_controls:
            raise RuntimeError("Control AfMode is not advertised by libcamera")
        self.rig.controls_seen.append(dict(controls))

    # ---------------------------------------------------------------- start / stop
    def start_(self) -> None:
        if not self.camera_config:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        self._next_frame = time.monotonic() + 1.0 / self.rig.fps

    def start(self) -> None:
        self.start_()

    def stop_(self) -> tuple[bool, None]:
        if self.started:
            self.started = False
            for r in self.completed_requests:
                r.released = True
            self.completed_requests = []
        return True, None

    def stop(self) -> None:
        if not self.started:
            return
        # The event loop runs in another thread (the NULL preview): stop goes through the queue.
        self.dispatch_functions([self.stop_], wait=True, immediate=True)

    def close(self) -> None:
        if not self.is_open:
            return
        unregister(self.rig.exit_hooks, self.close)
        self.stop()
        self.is_open = False
        self._loop_running = False
        self._wake.set()
        self.allocator.close()
        with self.rig.lock:
            if self.rig.holder is self:
                self.rig.holder = None
            self.rig.closed += 1

    def cancel_all_and_flush(self) -> None:
        with self.lock:
            for job in self._job_list:
                job.cancel()
            self._job_list = []

    # ---------------------------------------------------------------- the job queue
    def dispatch_functions(self, functions: list, wait: Any, immediate: bool = False) -> Any:
        if wait is None:
            wait = True
        timeout = None if wait is True else wait
        with self.lock:
            only_job = not self._job_list
            job = Job(functions)
            self._job_list.append(job)
            if only_job and (self.completed_requests or immediate):
                self._wake.set()
        return job.get_result(timeout=timeout) if wait else job

    def _event_loop(self) -> None:
        while self._loop_running:
            now = time.monotonic()
            due = self.started and not self.rig.stalled and now >= self._next_frame
            if not due:
                delay = max(0.001, self._next_frame - now) if self.started else 0.05
                self._wake.wait(min(delay, 0.05))
                self._wake.clear()
                if self.rig.wedged:
                    continue  # hung inside libcamera: nothing runs any more
                if not self._wake_pending_jobs():
                    continue
            if self.rig.wedged:
                continue
            self._process(produce=due)

    def _wake_pending_jobs(self) -> bool:
        with self.lock:
            return bool(self._job_list)

    def _process(self, produce: bool) -> None:
        with self.rig.frame_gate:
            if self.rig.wedged:
                return  # wedged since the event loop looked: nothing runs any more
            self._process_gated(produce and not self.rig.stalled)

    def _process_gated(self, produce: bool) -> None:
        new = []
        if produce and self.started:
            self._seq += 1
            t = time.monotonic()
            self._next_frame = t + 1.0 / self.rig.fps
            new.append(CompletedRequest(self, self._seq, self.camera_config, time.monotonic_ns()))
            self.rig.frames.append((self._seq, t))
        finished = []
        with self.lock:
            self.completed_requests += new
            while self._job_list:
                if self._job_list[0].execute():
                    finished.append(self._job_list.pop(0))
                else:
                    break
            while len(self.completed_requests) > self._max_queue_len:
                self.completed_requests.pop(0).released = True
        for job in finished:
            job.signal()

    # ---------------------------------------------------------------- job functions
    def capture_array_(self, name: str) -> tuple[bool, Any]:
        if not self.completed_requests:
            return False, None
        req = self.completed_requests.pop(0)
        arr = req.make_array(name)
        req.release()
        return True, arr

    def capture_request_(self) -> tuple[bool, Any]:
        if not self.completed_requests:
            return False, None
        return True, self.completed_requests.pop(0)

    def wait_for_timestamp_(self, timestamp_ns: int | None) -> tuple[bool, None]:
        if not timestamp_ns:
            return True, None
        while self.completed_requests:
            md = self.completed_requests[0].metadata
            if md["SensorTimestamp"] - 1000 * md["ExposureTime"] >= timestamp_ns:
                return True, None
            self.completed_requests.pop(0).released = True
        return False, None

    def switch_mode_(self, config: dict) -> tuple[bool, dict]:
        self.stop_()
        self.configure_(config)
        self.start_()
        self._next_frame = time.monotonic() + self.rig.switch_s
        self.rig.switches.append(config["use_case"])
        return True, self.camera_config

    # ---------------------------------------------------------------- public calls
    def capture_array(self, name: str = "main", wait: Any = None) -> Any:
        return self.dispatch_functions([partial(self.capture_array_, name)], wait)

    def capture_request(self, wait: Any = None, flush: Any = None) -> Any:
        if flush is True:
            flush = time.monotonic_ns()
        return self.dispatch_functions(
            [partial(self.wait_for_timestamp_, flush), self.capture_request_], wait
        )

    def switch_mode(self, config: dict, wait: Any = None) -> Any:
        self.rig.switch_callers.append(threading.current_thread().name)
        return self.dispatch_functions([partial(self.switch_mode_, config)], wait, immediate=True)
