"""The image guard (booth/images.py) on any bytes: `inspect` raises only BadImage, `decode`
raises only BadImage and stays within the decoding budget; the bombs outside tools found are
refused or decoded small; and what each booth process grows by on each of them, measured in a
fresh process (tests/support/bombmeter.py) and printed."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.properties  # noqa: F401  (the Hypothesis profile)
from booth import images
from booth.images import (
    DECODE_BUDGET,
    JPEG,
    PNG,
    BadImage,
    DecodeBudget,
    decode,
    decode_scale,
    decoder_bytes,
    inspect,
)
from tests.support.bombs import (
    jpeg_declaring,
    png_bomb,
    png_chunk_length_bomb,
    progressive_jpeg,
)

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000
# What no picture may grow a booth process by (docs/security.md, "Decoding pictures").
PROCESS_GROWTH_LIMIT = 150 * MB


# ---------------------------------------------------------------------------- pictures
def encoded(
    image: np.ndarray, kind: str, progressive: bool = False, sampling: str = "420"
) -> bytes:
    if kind == PNG:
        ok, buf = cv2.imencode(".png", image)
    else:
        factor = {
            "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
            "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
            "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
        }[sampling]
        ok, buf = cv2.imencode(
            ".jpg",
            image,
            [
                cv2.IMWRITE_JPEG_PROGRESSIVE,
                int(progressive),
                cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                factor,
            ],
        )
    assert ok
    return buf.tobytes()


@st.composite
def pictures(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """A small real JPEG or PNG (random size, coding and content) with its width and height."""
    w = draw(st.integers(1, 48))
    h = draw(st.integers(1, 48))
    seed = draw(st.integers(0, 2**32 - 1))
    image = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    kind = draw(st.sampled_from([JPEG, PNG]))
    if kind == PNG:
        return encoded(image, PNG), w, h
    progressive = draw(st.booleans())
    sampling = draw(st.sampled_from(["420", "444", "422"]))
    return encoded(image, JPEG, progressive, sampling), w, h


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A real picture with damage: bytes changed, cut, inserted, or a length field rewritten."""
    data = bytearray(draw(pictures())[0])
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "length", "dims"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if how == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif how == "cut":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif how == "length" and at + 4 <= len(data):
            data[at : at + 4] = struct.pack(">I", draw(st.sampled_from([0, 0x7FFFFFFF, 2**32 - 1])))
        elif how == "dims":  # a frame header or IHDR claiming a bigger picture
            sof = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
            size = draw(st.integers(1, 65535)), draw(st.integers(1, 65535))
            if sof >= 0 and sof + 9 <= len(data):
                data[sof + 5 : sof + 9] = struct.pack(">HH", *size)
            elif data[12:16] == b"IHDR":
                data[16:24] = struct.pack(">II", *size)
    return bytes(data)


def guarded(data: bytes) -> np.ndarray | None:
    """What every caller does: inspect, then decode; None when refused (BadImage)."""
    try:
        info = inspect(data)
        assert decoder_bytes(info, decode_scale(info)) <= DECODE_BUDGET
        return decode(data, info)
    except BadImage:
        return None


# ---------------------------------------------------------------------------- properties
@given(st.binary(max_size=512))
def test_inspect_raises_only_bad_image_on_any_bytes(data):
    try:
        info = inspect(data)
    except BadImage:
        return
    assert info.kind in (JPEG, PNG) and info.width > 0 and info.height > 0


@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]), st.binary(max_size=512))
def test_any_bytes_after_a_signature_are_refused_or_decoded(signature, rest):
    guarded(signature + rest)


@given(damaged())
def test_a_damaged_picture_is_refused_or_decoded_within_the_budget(data):
    img = guarded(data)
    if img is not None:
        assert img.ndim == 3 and img.shape[2] == 3


@given(pictures())
def test_a_whole_picture_decodes_to_its_size(picture):
    data, w, h = picture
    info = inspect(data)
    assert (info.width, info.height) == (w, h)
    img = decode(data, info)
    assert img.shape == (h, w, 3)


@given(
    st.integers(1, 65535),
    st.integers(1, 65535),
    st.sampled_from([(1, 1), (2, 2), (2, 1), (4, 4)]),
    st.booleans(),
    st.sampled_from([1, 2, 4, 8]),
)
def test_decode_scale_fits_the_budget_or_refuses(w, h, luma, progressive, reduce):
    sampling = (luma, (1, 1), (1, 1))
    info = images.ImageInfo(JPEG, w, h, sampling, progressive, 0)
    try:
        scale = decode_scale(info, reduce)
    except BadImage:
        assert decoder_bytes(info, 8) > DECODE_BUDGET  # not even 1/8 fits
        return
    assert scale >= reduce and decoder_bytes(info, scale) <= DECODE_BUDGET
    # the largest scale that fits: the next larger one (if it was allowed) does not
    if scale > reduce:
        assert decoder_bytes(info, scale // 2) > DECODE_BUDGET


# ---------------------------------------------------------------------------- regressions
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_png_chunk_longer_than_the_file_is_refused_before_decoding():
    """45 bytes that made OpenCV allocate 2 GB: the chunk length runs past the end."""
    bomb = png_chunk_length_bomb()
    assert len(bomb) == 45
    with pytest.raises(BadImage, match="declares 2147483647 bytes"):
        inspect(bomb)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d[:-12], "no IEND"),
        (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "CRC"),
        (lambda d: d[:33] + _chunk(b"acTL", b"\0" * 8) + d[33:], "animated"),
        (lambda d: d[:33] + _chunk(b"ZZZZ", b"") + d[33:], "unknown critical"),
        (lambda d: d[:8] + d[33:], "no IHDR"),
    ],
)
def test_png_structure_is_checked(change, fragment):
    good = encoded(np.zeros((4, 4, 3), np.uint8), PNG)
    inspect(good)
    with pytest.raises(BadImage, match=fragment):
        inspect(change(good))


def test_a_png_without_image_data_is_refused():
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
    with pytest.raises(BadImage, match="no image data"):
        inspect(b"\x89PNG\r\n\x1a\n" + ihdr + _chunk(b"IEND", b""))


def test_jpeg_structure_is_checked():
    good = encoded(np.zeros((16, 16, 3), np.uint8), JPEG)
    sof = good.find(b"\xff\xc0")
    lossless = good[:sof] + b"\xff\xc3" + good[sof + 2 :]
    with pytest.raises(BadImage, match="not accepted"):
        inspect(lossless)
    twelve_bit = good[: sof + 4] + b"\x0c" + good[sof + 5 :]
    with pytest.raises(BadImage, match="12-bit"):
        inspect(twelve_bit)
    runs_past = good[:sof] + b"\xff\xc0\xff\xff" + good[sof + 4 :]
    with pytest.raises(BadImage, match="runs past the end"):
        inspect(runs_past)
    scans = good.find(b"\xff\xda")
    many = good[:-2] + b"\xff\xda\x00\x02" * 100 + b"\xff\xd9"
    assert scans > 0
    with pytest.raises(BadImage, match="101 scans"):
        inspect(many)


def test_a_40_megapixel_garbage_jpeg_decodes_at_a_scale_within_the_budget():
    """858 bytes declaring 8000×5000 grew the worker by 232 MB: decoded whole it needs twice
    its 120 MB output. Now it decodes at the largest scale the budget allows."""
    bomb = jpeg_declaring(8000, 5000)
    info = inspect(bomb)
    assert decoder_bytes(info) > DECODE_BUDGET
    scale = decode_scale(info)
    assert scale > 1 and decoder_bytes(info, scale) <= DECODE_BUDGET
    img = decode(bomb, info)
    assert img.shape == (5000 // scale, 8000 // scale, 3)


def test_a_progressive_jpeg_whose_coefficients_exceed_the_budget_is_refused():
    """A progressive 4:4:4 JPEG keeps 2 bytes per coefficient of the whole picture at any
    output scale: 240 MB at 40 MP (347 MB on a full decode)."""
    bomb = jpeg_declaring(8000, 5000, progressive=True, sampling="444")
    info = inspect(bomb)
    assert info.buffered and decoder_bytes(info, 8) > 8000 * 5000 * 3 * 2
    with pytest.raises(BadImage, match="progressive or multi-scan JPEG needs about 2"):
        decode(bomb, info, reduce=8)


def test_concurrent_decodes_share_one_budget():
    import threading
    import time

    budget = DecodeBudget(100)
    inside: list[int] = []
    most = 0
    lock = threading.Lock()

    def one() -> None:
        nonlocal most
        with budget.hold(60):
            with lock:
                inside.append(1)
                most = max(most, len(inside))
            time.sleep(0.05)
            with lock:
                inside.pop()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most == 1 and budget.used == 0


# ---------------------------------------------------------------------------- measured
@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bombs")
    made = {
        "png-45-bytes-2GB-chunk.png": png_chunk_length_bomb(),
        "jpeg-garbage-40MP.jpg": jpeg_declaring(8000, 5000),
        "jpeg-progressive-444-40MP.jpg": progressive_jpeg(8000, 5000),
        "jpeg-garbage-24MP.jpg": jpeg_declaring(6000, 4000),
        "jpeg-progressive-444-24MP.jpg": progressive_jpeg(6000, 4000),
        # the largest PNG the budget decodes whole (1-bit grey: 8 MP in a few KB)
        "png-8MP.png": png_bomb(3300, 2400),
        # a real picture decoded whole, as large a square as the result limits let through
        # (the kiosk burns its frame and caption into it)
        "jpeg-baseline-2800px.jpg": encoded(
            np.random.default_rng(7).integers(0, 255, (2800, 2800, 3), np.uint8), JPEG
        ),
    }
    paths = []
    for name, data in made.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def run_meter(side: str, files: list[Path]) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.bombmeter", side, *map(str, files)],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("side", ["worker", "kiosk", "share"])
def test_no_picture_grows_a_booth_process_by_more_than_150_mb(side, bomb_files):
    rows = run_meter(side, bomb_files)
    print(f"\n{side}: growth over idle RSS per picture (peak RSS, VmHWM)")
    for row in rows:
        print(
            f"  {row['file']:34} idle {row['idle_rss'] / MB:5.0f} MB  peak {row['peak'] / MB:5.0f}"
            f" MB  +{row['growth'] / MB:4.0f} MB  {row['outcome'][:90]}"
        )
    assert len(rows) == len(bomb_files)
    over = {r["file"]: r["growth"] // MB for r in rows if r["growth"] > PROCESS_GROWTH_LIMIT}
    assert not over, f"{side} grew by more than 150 MB (MB): {over}"


@pytest.mark.slow
def test_the_decoder_estimate_covers_what_opencv_takes(tmp_path):
    """decoder_bytes is the budget's model of OpenCV: for each kind of file, measured in a fresh
    process, it is at least what OpenCV took, and not so far above that it refuses what fits."""
    gradient = np.linspace(0, 255, 2400, dtype=np.float32).astype(np.uint8)
    image = np.empty((1800, 2400, 3), np.uint8)
    image[:] = gradient[None, :, None]
    image[::7, :, 1] = 40  # some detail, so the coded data is not trivial
    rgba16 = np.dstack([image, image[..., :1]]).astype(np.uint16) * 257
    files = {
        "baseline-420.jpg": encoded(image, JPEG),
        "baseline-444.jpg": encoded(image, JPEG, sampling="444"),
        "progressive-420.jpg": encoded(image, JPEG, progressive=True),
        "progressive-444.jpg": encoded(image, JPEG, progressive=True, sampling="444"),
        "grey.jpg": cv2.imencode(".jpg", image[..., 0])[1].tobytes(),
        "rgb.png": encoded(image, PNG),
        "rgba16.png": cv2.imencode(".png", rgba16)[1].tobytes(),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    rows = run_meter("opencv", paths)
    print("\nOpenCV's whole decode of a 2400×1800 picture, measured vs estimated (MB)")
    for row in rows:
        print(
            f"  {row['file']:22} took {row['growth'] / MB:5.1f}"
            f"  estimate {row['estimate'] / MB:5.1f}"
        )
    for row in rows:
        assert row["outcome"].startswith("decoded"), row
        assert row["growth"] <= row["estimate"], row
        assert row["estimate"] <= 1.25 * row["growth"] + 4 * MB, row
