"""H.264 encoding through Cisco's OpenH264 library (BSD-2-Clause), called with ctypes.

Why OpenH264 and not PyAV or an FFmpeg: PyAV's wheels bundle libx264 and libx265 (GPL) inside
their FFmpeg, so a booth image with them ships GPL code whichever encoder is called, and
Debian's and Raspberry Pi OS's FFmpeg are GPL builds too. OpenH264 is a Debian package
(`libopenh264-7`, amd64, arm64 and armhf; Debian's chromium already depends on it), has no
Python dependency, and its C interface is small: create, initialize, encode I420 frames, read
the NAL units back. It gives Constrained Baseline, which every phone plays (docs/share.md
"The reveal clip" has the whole comparison).

The structures below are those of `wels/codec_api.h` and `wels/codec_app_def.h` (OpenH264 2.x;
the encoder's C interface is a table of function pointers). Only the base parameters are used,
plus options by number: the extended parameter block changed between releases, the base one
did not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

LIBRARY_NAMES = ("libopenh264.so.7", "libopenh264.so.6", "libopenh264.so")
# A library of one's own instead (a path), e.g. Cisco's binary build; tests point it at nothing.
LIBRARY_ENV = "BOOTH_OPENH264_LIBRARY"

# enums of codec_app_def.h / codec_def.h
_CAMERA_VIDEO_REAL_TIME = 0  # the non-real-time type is refused by 2.3
_RC_QUALITY_MODE = 0
_VIDEO_FORMAT_I420 = 23
_OPTION_IDR_INTERVAL = 1
_OPTION_RC_FRAME_SKIP = 9
_OPTION_TRACE_LEVEL = 25
_TRACE_QUIET = 0
_FRAME_TYPE_INVALID, _FRAME_TYPE_SKIP = 0, 4
_MAX_LAYERS = 128  # MAX_LAYER_NUM_OF_FRAME
MAX_FPS = 30.0  # OpenH264's MAX_FRAME_RATE


class EncoderUnavailable(RuntimeError):
    """No usable H.264 encoder on this machine (the library is missing or refused to start)."""


class _ParamBase(ctypes.Structure):
    _fields_ = [
        ("iUsageType", ctypes.c_int),
        ("iPicWidth", ctypes.c_int),
        ("iPicHeight", ctypes.c_int),
        ("iTargetBitrate", ctypes.c_int),
        ("iRCMode", ctypes.c_int),
        ("fMaxFrameRate", ctypes.c_float),
    ]


class _SourcePicture(ctypes.Structure):
    _fields_ = [
        ("iColorFormat", ctypes.c_int),
        ("iStride", ctypes.c_int * 4),
        ("pData", ctypes.c_void_p * 4),
        ("iPicWidth", ctypes.c_int),
        ("iPicHeight", ctypes.c_int),
        ("uiTimeStamp", ctypes.c_longlong),
    ]


class _LayerInfo(ctypes.Structure):
    _fields_ = [
        ("uiTemporalId", ctypes.c_ubyte),
        ("uiSpatialId", ctypes.c_ubyte),
        ("uiQualityId", ctypes.c_ubyte),
        ("eFrameType", ctypes.c_int),
        ("uiLayerType", ctypes.c_ubyte),
        ("iSubSeqId", ctypes.c_int),
        ("iNalCount", ctypes.c_int),
        ("pNalLengthInByte", ctypes.POINTER(ctypes.c_int)),
        ("pBsBuf", ctypes.POINTER(ctypes.c_ubyte)),
    ]


class _FrameInfo(ctypes.Structure):
    _fields_ = [
        ("iLayerNum", ctypes.c_int),
        ("sLayerInfo", _LayerInfo * _MAX_LAYERS),
        ("eFrameType", ctypes.c_int),
        ("iFrameSizeInBytes", ctypes.c_int),
        ("uiTimeStamp", ctypes.c_longlong),
    ]


_Self = ctypes.c_void_p  # ISVCEncoder*: a pointer to the pointer to the function table
_INT = ctypes.c_int


class _Vtable(ctypes.Structure):
    _fields_ = [
        ("Initialize", ctypes.CFUNCTYPE(_INT, _Self, ctypes.POINTER(_ParamBase))),
        ("InitializeExt", ctypes.CFUNCTYPE(_INT, _Self, ctypes.c_void_p)),
        ("GetDefaultParams", ctypes.CFUNCTYPE(_INT, _Self, ctypes.c_void_p)),
        ("Uninitialize", ctypes.CFUNCTYPE(_INT, _Self)),
        (
            "EncodeFrame",
            ctypes.CFUNCTYPE(
                _INT, _Self, ctypes.POINTER(_SourcePicture), ctypes.POINTER(_FrameInfo)
            ),
        ),
        ("EncodeParameterSets", ctypes.CFUNCTYPE(_INT, _Self, ctypes.POINTER(_FrameInfo))),
        ("ForceIntraFrame", ctypes.CFUNCTYPE(_INT, _Self, ctypes.c_bool)),
        ("SetOption", ctypes.CFUNCTYPE(_INT, _Self, _INT, ctypes.c_void_p)),
        ("GetOption", ctypes.CFUNCTYPE(_INT, _Self, _INT, ctypes.c_void_p)),
    ]


_libs: dict[tuple[str, ...], ctypes.CDLL] = {}
_lib_lock = threading.Lock()


def library_names() -> tuple[str, ...]:
    """Where OpenH264 is looked for: BOOTH_OPENH264_LIBRARY alone when set, else Debian's
    names and whatever the linker cache knows."""
    own = os.environ.get(LIBRARY_ENV, "").strip()
    if own:
        return (own,)
    found = ctypes.util.find_library("openh264")
    return LIBRARY_NAMES + ((found,) if found and found not in LIBRARY_NAMES else ())


def load_library(names: tuple[str, ...] | None = None) -> ctypes.CDLL:
    """The OpenH264 library, loaded once; EncoderUnavailable when this machine has none."""
    names = names or library_names()
    with _lib_lock:
        if names in _libs:
            return _libs[names]
        tried: list[str] = []
        for name in names:
            try:
                lib = ctypes.CDLL(name)
                create, destroy = lib.WelsCreateSVCEncoder, lib.WelsDestroySVCEncoder
            except (OSError, AttributeError) as exc:
                tried.append(f"{name}: {exc}")
                continue
            create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
            create.restype = ctypes.c_int
            destroy.argtypes = [ctypes.c_void_p]
            destroy.restype = None
            _libs[names] = lib
            return lib
        raise EncoderUnavailable(
            "no OpenH264 library (Debian package libopenh264-7): " + "; ".join(tried)
        )


@dataclass(frozen=True)
class EncodedFrame:
    """One picture's NAL units (start codes removed) and whether it starts a GOP."""

    nals: list[bytes]
    keyframe: bool


class H264Encoder:
    """Constrained Baseline H.264 from I420 frames; one instance per clip, used by one thread."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        bitrate: int,
        library: tuple[str, ...] | None = None,
    ) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"H.264 4:2:0 needs even sizes, not {width}x{height}")
        self.width, self.height, self.fps = width, height, min(float(fps), MAX_FPS)
        lib = load_library(library)
        self._lib = lib
        handle = ctypes.c_void_p()
        if lib.WelsCreateSVCEncoder(ctypes.byref(handle)) != 0 or not handle.value:
            raise EncoderUnavailable("OpenH264 could not create an encoder")
        self._handle: ctypes.c_void_p | None = handle
        table_ptr = ctypes.cast(handle, ctypes.POINTER(ctypes.POINTER(_Vtable)))
        self._vt = table_ptr.contents.contents
        self._option(_OPTION_TRACE_LEVEL, ctypes.c_int(_TRACE_QUIET))
        params = _ParamBase(
            _CAMERA_VIDEO_REAL_TIME, width, height, bitrate, _RC_QUALITY_MODE, self.fps
        )
        rc = self._vt.Initialize(handle, ctypes.byref(params))
        if rc != 0:
            self.close()
            raise EncoderUnavailable(f"OpenH264 refused {width}x{height} (error {rc})")
        # Every frame must come out (a skipped one would shorten the clip), and one IDR at the
        # start is enough for a clip that is played from its start.
        self._option(_OPTION_RC_FRAME_SKIP, ctypes.c_bool(False))
        self._info = _FrameInfo()
        self._pic = _SourcePicture()
        self._pic.iColorFormat = _VIDEO_FORMAT_I420
        self._pic.iPicWidth, self._pic.iPicHeight = width, height
        self._frames = 0

    def _option(
        self, option: int, value: ctypes._SimpleCData[Any] | ctypes.Array[ctypes.c_int]
    ) -> None:
        rc = self._vt.SetOption(
            self._handle, option, ctypes.cast(ctypes.byref(value), ctypes.c_void_p)
        )
        if rc != 0:
            raise EncoderUnavailable(f"OpenH264 refused option {option} (error {rc})")

    def encode(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> EncodedFrame:
        """Encode one picture (uint8 planes: Y height×width, U and V half that each way)."""
        if self._handle is None:
            raise RuntimeError("encoder closed")
        planes = [np.ascontiguousarray(p, dtype=np.uint8) for p in (y, u, v)]
        if planes[0].shape != (self.height, self.width) or any(
            p.shape != (self.height // 2, self.width // 2) for p in planes[1:]
        ):
            raise ValueError("plane sizes do not match the encoder's")
        pic = self._pic
        for i, p in enumerate(planes):
            pic.iStride[i] = p.strides[0]
            pic.pData[i] = p.ctypes.data
        pic.uiTimeStamp = round(self._frames * 1000 / self.fps)
        rc = self._vt.EncodeFrame(self._handle, ctypes.byref(pic), ctypes.byref(self._info))
        if rc != 0:
            raise RuntimeError(f"OpenH264 EncodeFrame failed (error {rc})")
        info = self._info
        if info.eFrameType in (_FRAME_TYPE_INVALID, _FRAME_TYPE_SKIP):
            raise RuntimeError(f"OpenH264 produced no picture for frame {self._frames}")
        self._frames += 1
        nals: list[bytes] = []
        for li in range(info.iLayerNum):
            layer = info.sLayerInfo[li]
            offset = 0
            for ni in range(layer.iNalCount):
                size = layer.pNalLengthInByte[ni]
                raw = ctypes.string_at(ctypes.addressof(layer.pBsBuf.contents) + offset, size)
                offset += size
                nals.append(strip_start_code(raw))
        return EncodedFrame(nals, info.eFrameType == 1)

    def close(self) -> None:
        if getattr(self, "_handle", None) is None:
            return
        try:
            self._vt.Uninitialize(self._handle)
        finally:
            self._lib.WelsDestroySVCEncoder(self._handle)
            self._handle = None

    def __enter__(self) -> H264Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def strip_start_code(nal: bytes) -> bytes:
    """A NAL unit without its Annex B start code (00 00 01 or 00 00 00 01)."""
    if nal.startswith(b"\x00\x00\x00\x01"):
        return nal[4:]
    if nal.startswith(b"\x00\x00\x01"):
        return nal[3:]
    return nal


def available() -> bool:
    """Whether clips can be encoded on this machine."""
    try:
        load_library()
    except EncoderUnavailable:
        return False
    return True
