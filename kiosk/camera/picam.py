"""The Raspberry Pi camera through picamera2 (imported lazily: it exists only on Raspberry Pi OS).

What picamera2 does that shapes this backend (read in its picamera2.py and job.py):
- every call is a *job* run in order by the camera's event loop as frames arrive; a call without
  `wait=SECONDS` blocks forever when frames stop, and `stop()` queues behind it. So every call
  here passes `wait=`, a timeout marks the camera stalled (no more jobs are queued behind the
  stuck one), and shutting down calls `cancel_all_and_flush()` before `stop()`/`close()`, which
  run on a helper thread with a bounded join (a wedged driver is reported, not waited for).
- a mode switch costs ~0.5–0.7 s before the first frame and re-allocates every buffer: the
  camera opens with a `PersistentAllocator` (both configurations' buffers are allocated once)
  and `prepare_still()` switches to the still configuration when the countdown *starts*
  (full-resolution main + a low-resolution YUV420 `lores` stream that keeps the preview
  going), so `capture_still()` at zero only takes the next request. Afterwards the preview
  configuration comes back on a background thread; `switching` tells the watchdog meanwhile.
- the preview stream has the sensor's aspect ratio (the full field of view, like the still),
  so the screen's cover-crop and the still's crop (kiosk/jobs/capture.py) show the same framing.
- Camera Module 3 starts in manual focus at ~1 m: continuous autofocus is set wherever the
  camera offers `AfMode` (the HQ camera does not, and rejects it).
- with a `View` (the kiosk's screen) the preview configuration's main stream *is* the screen's
  frame: at the screen's size (the ISP crops the sensor to the output's aspect ratio, centred:
  libcamera's vc4.cpp and pisp.cpp, "Adjust aspect ratio by providing crops on the input
  image", the same framing as the still's crop), mirrored by the transform's flip, in the
  display's byte order (`XRGB8888` arrays are B,G,R,X: a 32-bit XRGB8888 surface's memory, and
  `make_array` hands over a contiguous copy). The frame loop blits it as it is. During the
  countdown the preview comes from the still configuration's lores stream (YUV420 on a Pi 4), at
  the sensor's aspect and just large enough to cover the screen, converted on this thread.
- picamera2 names formats by memory order: `BGR888` arrays are R,G,B and `RGB888` arrays B,G,R
  (OpenCV's order: the still is `RGB888`, so its encoders take it as it is). 180° rotation is a
  libcamera transform (h+v flip); 90°/270° are done in software because the Pi's ISP cannot
  transpose (the mirror is then the transform's vertical flip, which the turn makes horizontal).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from kiosk.camera.base import BGRX, RGB, RGBX, Camera, CameraError, View, cover_crop, rotate

log = logging.getLogger(__name__)

MAIN_FORMAT = "BGR888"  # arrays come out R,G,B: the preview without a view
STILL_FORMAT = "RGB888"  # arrays come out B,G,R: the still, as OpenCV's encoders take it
# the preview's main format for each display layout: arrays in that layout's memory order
VIEW_FORMATS = {BGRX: "XRGB8888", RGBX: "XBGR8888", RGB: "BGR888"}
LORES_FORMAT = "YUV420"  # the only lores format a Pi 4 (VC4) accepts
_YUV_TO = {
    BGRX: cv2.COLOR_YUV2BGRA_I420,
    RGBX: cv2.COLOR_YUV2RGBA_I420,
    RGB: cv2.COLOR_YUV2RGB_I420,
}
SWITCH_TIMEOUT_S = 5.0  # a mode switch normally takes < 1 s
CLOSE_TIMEOUT_S = 3.0  # cancel + stop + close; longer means the driver is wedged
STILL_HOLD_S = 20.0  # back to the preview configuration when no shot follows prepare_still()
PREVIEW, STILL = "preview", "still"


@dataclass(frozen=True)
class PicameraApi:
    """What this backend takes from picamera2 and libcamera (tests pass a stand-in)."""

    open: Callable[[Any], Any]  # allocator (or None) -> an opened Picamera2
    allocator: Callable[[], Any] | None  # PersistentAllocator, None where picamera2 lacks it
    transform: Callable[[bool, bool], Any]  # (hflip, vflip) -> libcamera.Transform
    af_continuous: Any  # libcamera.controls.AfModeEnum.Continuous
    timeout_errors: tuple[type[BaseException], ...]  # what a `wait=` that ran out raises


def picamera2_api() -> PicameraApi:
    """The real modules. Raises whatever their import raises (on Bookworm with a mismatched
    numpy that is `ValueError: numpy.dtype size changed`), so the caller can say why."""
    from concurrent.futures import TimeoutError as FutureTimeout

    # picamera2 first: its import is what fails on Bookworm, with the reason to show
    # isort: off
    from picamera2 import Picamera2
    import libcamera
    # isort: on

    try:
        from picamera2.allocators import PersistentAllocator
    except ImportError:  # picamera2 < 0.3.17
        PersistentAllocator = None

    return PicameraApi(
        open=lambda alloc: Picamera2(allocator=alloc) if alloc is not None else Picamera2(),
        allocator=PersistentAllocator,
        transform=lambda h, v: libcamera.Transform(hflip=int(h), vflip=int(v)),
        af_continuous=libcamera.controls.AfModeEnum.Continuous,
        timeout_errors=(FutureTimeout, TimeoutError),
    )


def sensor_aspect_size(width: int, sensor: tuple[int, int]) -> tuple[int, int]:
    """A stream `width` wide with the sensor's aspect ratio (even sizes, as picamera2 wants)."""
    sw, sh = sensor
    w = max(64, width - width % 2)
    h = max(48, round(w * sh / sw))
    return w, h - h % 2


def sensor_cover_size(size: tuple[int, int], sensor: tuple[int, int]) -> tuple[int, int]:
    """The smallest stream with the sensor's aspect ratio that covers `size` (w, h), no larger
    than the sensor (even sizes): the countdown's lores stream, cropped to the screen."""
    sw, sh = sensor
    scale = min(1.0, max(size[0] / sw, size[1] / sh))
    w, h = max(64, round(sw * scale)), max(48, round(sh * scale))
    return w + w % 2, h + h % 2


def yuv420_to_rgb(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """picamera2's YUV420 array ((h * 3/2) rows of `stride` bytes) to RGB (h, w, 3)."""
    w, h = size
    rgb = cv2.cvtColor(array, cv2.COLOR_YUV2RGB_I420)
    return np.ascontiguousarray(rgb[:h, :w])


def _why(exc: BaseException) -> str:
    """The message and its cause (picamera2 wraps libcamera's reason in a RuntimeError)."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f": {cause}"
    return text


class PiCamera(Camera):
    name = "picamera2"

    def __init__(
        self,
        preview_size: tuple[int, int] = (1280, 720),
        rotation: int = 0,
        frame_timeout_s: float = 2.0,
        api: PicameraApi | None = None,
        view: View | None = None,
    ) -> None:
        super().__init__(preview_size, rotation, view)
        self.frame_timeout_s = frame_timeout_s
        self._api = api
        self._cam: Any = None
        self._configs: dict[str, Any] = {}
        self._lores_size = (0, 0)
        self._mode = PREVIEW
        self._io = threading.Lock()  # one camera call at a time from this side
        self._switcher: ThreadPoolExecutor | None = None
        self._pending: Future | None = None  # a mode switch queued or running
        self._switching = False
        self._prepared_at = 0.0
        self._capturing = False
        self._stalled = False
        self.autofocus = False
        self.sensor_size: tuple[int, int] | None = None

    # ------------------------------------------------------------------ open
    def _open(self) -> None:
        try:
            api = self._api or picamera2_api()
        except Exception as exc:  # ImportError, or numpy's ValueError on an ABI mismatch
            raise CameraError(f"picamera2 cannot be imported: {type(exc).__name__}: {exc}") from exc
        alloc = None
        if api.allocator is not None:
            alloc = api.allocator()
        else:
            log.warning(
                "picamera2 has no PersistentAllocator (< 0.3.17): every shot "
                "re-allocates its buffers"
            )
        try:
            cam = api.open(alloc)
        except IndexError as exc:  # Picamera2() indexes the list of detected cameras
            raise CameraError(
                "picamera2: no Pi camera detected (check the ribbon cable; "
                "`rpicam-hello --list-cameras`)"
            ) from exc
        except Exception as exc:
            raise CameraError(f"picamera2: cannot open the camera: {_why(exc)}") from exc
        try:
            self._configure(cam, api)
            cam.start()
        except Exception as exc:
            self._shutdown(cam)
            raise CameraError(f"picamera2: cannot start: {_why(exc)}") from exc
        self._api, self._cam, self._mode = api, cam, PREVIEW
        self._stalled = self._switching = self._capturing = False
        self._switcher = ThreadPoolExecutor(1, thread_name_prefix="cam-modes")
        assert self.sensor_size is not None  # _configure has set it
        log.info(
            "picamera2: sensor %dx%d, preview %dx%d, autofocus %s",
            *self.sensor_size,
            *self._lores_size,
            "continuous" if self.autofocus else "not offered",
        )

    def _stream_view(self) -> tuple[tuple[int, int], bool, bool]:
        """(size, hflip, vflip) of the preview stream before the software turn: a 90°/270°
        turn swaps the sides and makes the transform's vertical flip the screen's mirror."""
        view = self.view
        assert view is not None
        w, h = view.size
        if self._software_turn() in (90, 270):
            return (h - h % 2, w - w % 2), False, view.mirror
        return (w - w % 2, h - h % 2), view.mirror, False

    def _configure(self, cam: Any, api: PicameraApi) -> None:
        self._configs = self._make_configs(cam, api)
        cam.configure(self._configs[PREVIEW])

    def _make_configs(self, cam: Any, api: PicameraApi) -> dict[str, Any]:
        """The preview and still configurations for the camera, the rotation and the view."""
        sensor = tuple(cam.sensor_resolution)
        self.sensor_size = sensor
        flip = self.rotation == 180
        self._hw_rotation = 180 if flip else 0
        if self.view is None:
            size = sensor_aspect_size(self.preview_size[0], sensor)
            main_size, main_format, hmirror, vmirror = size, MAIN_FORMAT, False, False
        else:
            main_size, hmirror, vmirror = self._stream_view()
            main_format = VIEW_FORMATS[self.view.layout]
            size = sensor_cover_size(main_size, sensor)
        self._lores_size = size
        # A 2x2-binned sensor mode covers the whole sensor on every Pi camera; picamera2 scores
        # the modes against this size (its _make_libcamera_config) and picks the nearest.
        binned = {
            "output_size": (
                sensor[0] // 2 - sensor[0] // 2 % 2,
                sensor[1] // 2 - sensor[1] // 2 % 2,
            )
        }
        transform = api.transform(flip, flip)
        # the preview's transform adds the mirror (the still is never mirrored)
        mirrored = api.transform(flip != hmirror, flip != vmirror)
        controls: dict[str, Any] = {}
        self.autofocus = "AfMode" in cam.camera_controls
        if self.autofocus:
            controls["AfMode"] = api.af_continuous
        return {
            PREVIEW: cam.create_preview_configuration(
                main={"size": main_size, "format": main_format},
                transform=mirrored,
                sensor=binned,
                controls=dict(controls),
            ),
            STILL: cam.create_still_configuration(
                main={"size": sensor, "format": STILL_FORMAT},
                lores={"size": size, "format": LORES_FORMAT},
                transform=transform,
                buffer_count=2,
                controls=dict(controls),
            ),
        }

    # ------------------------------------------------------------------ frames
    @property
    def switching(self) -> bool:
        return self._switching

    def _stall(self, what: str) -> CameraError:
        """A call ran out of time: its job stays queued in picamera2, so queue no more."""
        self._stalled = True
        self.last_error = f"picamera2: {what} timed out (no frame from the camera)"
        return CameraError(self.last_error)

    def _grab(self) -> np.ndarray | None:
        if self._stalled:
            time.sleep(0.1)  # waiting for the watchdog to reopen the camera
            return None
        if (
            self._mode == STILL
            and not self._capturing
            and not self._switch_queued()
            and time.monotonic() - self._prepared_at > STILL_HOLD_S
        ):
            self._queue_switch(PREVIEW)  # the countdown was abandoned
        if self._capturing or self._switching:
            time.sleep(0.005)  # the shot or a switch goes first (the lock is not fair)
            return None
        if not self._io.acquire(timeout=self.frame_timeout_s):
            return None
        try:
            cam, api = self._cam, self._api
            if cam is None or api is None or self._stalled:
                return None
            try:
                if self._mode == PREVIEW:
                    main = cam.capture_array("main", wait=self.frame_timeout_s)
                    return rotate(main, self._software_turn())  # 0 and 180: as it is
                req = cam.capture_request(wait=self.frame_timeout_s)
                try:
                    lores = req.make_array("lores")
                finally:
                    req.release()
                return self._lores_preview(lores)
            except api.timeout_errors:
                raise self._stall("capture") from None
        finally:
            self._io.release()

    def _lores_preview(self, yuv: np.ndarray) -> np.ndarray:
        """A countdown frame from the lores stream (YUV420, not mirrored): converted straight
        into the view's layout, turned, cropped to the screen (no scaling when the stream is
        sized to cover it, `sensor_cover_size`), mirrored."""
        w, h = self._lores_size
        view = self.view
        if view is None:
            return rotate(yuv420_to_rgb(yuv, (w, h)), self._software_turn())
        pixels = rotate(cv2.cvtColor(yuv, _YUV_TO[view.layout])[:h, :w], self._software_turn())
        crop = cover_crop(pixels, view.size)
        if (crop.shape[1], crop.shape[0]) != view.size:
            crop = cv2.resize(crop, view.size, interpolation=cv2.INTER_AREA)
        return cv2.flip(crop, 1) if view.mirror else np.ascontiguousarray(crop)

    def set_view(self, view: View | None) -> None:
        """A new view while open: the configurations are made anew for it and the preview
        configuration re-entered on the mode thread (a switch, as after a shot)."""
        super().set_view(view)
        cam, api = self._cam, self._api
        if cam is None or api is None:
            return  # applied when it opens
        self._queue_switch(PREVIEW, rebuild=True)

    # ------------------------------------------------------------------ shutter
    def _switch(self, mode: str, rebuild: bool = False) -> None:
        """Runs on the mode thread (or the capture thread when nothing was prepared)."""
        if not self._io.acquire(timeout=SWITCH_TIMEOUT_S):
            self._switching = False
            raise CameraError("picamera2: the camera stayed busy; mode switch skipped")
        self._switching = True
        try:
            cam, api = self._cam, self._api
            if cam is None or api is None or self._stalled or (self._mode == mode and not rebuild):
                return
            if rebuild:
                self._configs = self._make_configs(cam, api)
            try:
                cam.switch_mode(self._configs[mode], wait=SWITCH_TIMEOUT_S)
            except api.timeout_errors:
                raise self._stall(f"switch to the {mode} configuration") from None
            self._mode = mode
            if mode == STILL:
                self._prepared_at = time.monotonic()
        finally:
            self._switching = False
            self._io.release()

    def _queue_switch(self, mode: str, rebuild: bool = False) -> Future | None:
        if self._switcher is None:
            return None
        self._switching = True  # from now on: the watchdog must not count the gap

        def run() -> None:
            try:
                self._switch(mode, rebuild)
            except Exception as exc:
                self.last_error = str(exc)
                log.error("camera: %s", exc)

        try:
            self._pending = self._switcher.submit(run)
        except RuntimeError:  # shut down meanwhile
            self._switching = False
            return None
        return self._pending

    def _switch_queued(self) -> bool:
        pending = self._pending
        return pending is not None and not pending.done()

    def prepare_still(self) -> None:
        """Countdown started: enter the still configuration now, in the background."""
        if (
            self._cam is not None
            and not self._stalled
            and self._mode == PREVIEW
            and not self._switch_queued()
        ):
            self._queue_switch(STILL)

    def _still(self) -> np.ndarray:
        pending = self._pending
        if pending is not None:
            try:
                pending.result(timeout=SWITCH_TIMEOUT_S + 1)
            except Exception:
                pass  # its failure is logged; the checks below decide
        if self._cam is None or self._stalled:
            raise CameraError(self.last_error or "picamera2: not started")
        self._capturing = True
        try:
            if self._mode != STILL:
                self._switch(STILL)  # nothing was prepared (countdown 0): switch now
            if not self._io.acquire(timeout=SWITCH_TIMEOUT_S):
                raise CameraError("picamera2: the camera stayed busy; no shot")
            try:
                cam, api = self._cam, self._api
                if cam is None or api is None:
                    raise CameraError("picamera2: stopped")
                try:
                    # flush=True: a frame exposed after this moment, not one already queued
                    req = cam.capture_request(wait=self.frame_timeout_s + 1.0, flush=True)
                except api.timeout_errors:
                    raise self._stall("the still capture") from None
                try:
                    still = req.make_array("main")
                finally:
                    req.release()
            finally:
                self._io.release()
        finally:
            self._capturing = False
        self._queue_switch(PREVIEW)  # the preview comes back while the shot is stored
        return still  # make_array's own contiguous copy: no second one

    # ------------------------------------------------------------------ shutdown
    def _interrupt(self) -> None:
        """Release a grab or switch blocked in picamera2 so the threads can end."""
        cam = self._cam
        if cam is not None and hasattr(cam, "cancel_all_and_flush"):
            cam.cancel_all_and_flush()

    def _close(self) -> None:
        cam, self._cam = self._cam, None
        if self._switcher is not None:
            self._switcher.shutdown(wait=False, cancel_futures=True)
            self._switcher = None
        self._pending = None
        self._switching = False
        if cam is not None:
            self._shutdown(cam)

    @staticmethod
    def _shutdown(cam: Any) -> None:
        """cancel_all_and_flush → stop → close on a helper thread, joined for a bounded time."""
        errors: list[str] = []

        def run() -> None:
            for step in ("cancel_all_and_flush", "stop", "close"):
                fn = getattr(cam, step, None)
                if fn is None:
                    if step == "cancel_all_and_flush":
                        log.warning(
                            "picamera2 has no cancel_all_and_flush (< 0.3.20): stop() "
                            "may wait behind a stuck capture"
                        )
                    continue
                try:
                    fn()
                except Exception as exc:
                    errors.append(f"{step}: {_why(exc)}")

        t = threading.Thread(target=run, name="cam-close", daemon=True)
        t.start()
        t.join(CLOSE_TIMEOUT_S)
        if t.is_alive():
            # Picamera2 registers close() to run at interpreter exit; on a stuck driver it
            # would block the exit for systemd forever: we give this camera up for good.
            atexit.unregister(cam.close)
            raise CameraError(
                f"picamera2: stop/close did not return in {CLOSE_TIMEOUT_S:g} s "
                "(the camera driver is stuck)"
            )
        if errors:
            log.warning("picamera2: shutting down: %s", "; ".join(errors))
