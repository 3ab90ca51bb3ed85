"""How much one picture grows a booth process: each side's own code path for an image from
outside, run in a fresh process, its peak RSS (VmHWM) read before and after.

`python -m tests.support.bombmeter SIDE FILE...` (from the checkout) prints a JSON line per file:
{"side", "file", "idle_rss", "peak", "growth", "outcome"}, sizes in bytes. SIDE is
- `worker`: a job payload as worker/service.py takes it (worker/validate.py decode_job_image,
  then the full picture shrunk to the model's size, the step every job makes);
- `kiosk`: a worker's result as the kiosk's job side stores it (kiosk/jobs/results.py
  ResultStore, with a frame and a caption burned in by kiosk/jobs/branding.py);
- `share`: a stored result's thumbnail as the operator gallery asks for it (share/thumbs.py);
- `opencv`: OpenCV's own decode of the whole picture, no guard (what booth/images.py's
  decoder_bytes estimates), with that estimate in the line as "estimate".

Idle is measured after the same path has handled a real photo (tests/fixtures/portrait.jpg), so
OpenCV and its codecs are loaded and warm; then, before each file, the high-water mark is reset
(writing 5 to /proc/self/clear_refs) and the picture goes through. The growth is peak minus idle
RSS.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.jpg"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _worker(tmp: Path) -> Callable[[bytes], str]:
    from booth.config import Config
    from booth.images import shrink
    from worker.validate import decode_job_image

    cfg = Config()

    def run(data: bytes) -> str:
        decoded = decode_job_image(data, cfg.worker.max_bytes, cfg.worker.max_pixels)
        small = shrink(decoded.image, cfg.worker.model_long_side)
        return f"decoded, {small.shape[1]}x{small.shape[0]} for the model"

    return run


def _kiosk(tmp: Path) -> Callable[[bytes], str]:
    import cv2
    import numpy as np

    from booth.config import load_config
    from booth.protocol import new_job_id
    from jobstore.ledger import Ledger, ledger_path
    from kiosk.jobs.branding import Branding
    from kiosk.jobs.results import ResultStore

    frame = np.zeros((600, 800, 4), np.uint8)  # an event frame: an opaque border, clear inside
    frame[:40], frame[-40:], frame[:, :40], frame[:, -40:] = 255, 255, 255, 255
    cv2.imwrite(str(tmp / "frame.png"), frame)
    toml = tmp / "booth.toml"
    toml.write_text(
        f'[kiosk]\ncaption = "{{title}} · {{date}}"\nframe_overlay = "{tmp / "frame.png"}"\n'
    )
    cfg = load_config(toml, env={"BOOTH_DATA_DIR": str(tmp / "data"), "BOOTH_ID": "meter"})
    ledger = Ledger(ledger_path(cfg.data_dir))
    store = ResultStore(Path(cfg.data_dir), ledger, Branding.from_config(cfg))

    def run(data: bytes) -> str:
        job_id = new_job_id()
        now = time.time()
        ledger.insert_pending(job_id, cfg.booth_id, "drip", now, "2026-12-01T12:00:00Z", "", "")
        row = ledger.get(job_id)
        assert row is not None
        stored = store.store(row, data)
        return f"stored, {stored} bytes"

    return run


def _share(tmp: Path) -> Callable[[bytes], str]:
    from share.thumbs import make_thumbnail

    counter = iter(range(1_000_000))

    def run(data: bytes) -> str:
        path = tmp / f"result-{next(counter)}.img"
        path.write_bytes(data)
        thumb = make_thumbnail(path)
        return "no thumbnail" if thumb is None else f"thumbnail, {len(thumb)} bytes"

    return run


def _opencv(tmp: Path) -> Callable[[bytes], str]:
    import cv2
    import numpy as np

    def run(data: bytes) -> str:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return "not decoded" if img is None else f"decoded, {img.shape[1]}x{img.shape[0]}"

    return run


SIDES: dict[str, Callable[[Path], Callable[[bytes], str]]] = {
    "worker": _worker,
    "kiosk": _kiosk,
    "share": _share,
    "opencv": _opencv,
}


def measure(side: str, files: list[Path]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        run = SIDES[side](Path(tmp))
        run(PORTRAIT.read_bytes())  # warm: codecs loaded, caches and pools made
        for path in files:
            data = path.read_bytes()
            Path("/proc/self/clear_refs").write_text("5")  # the high-water mark back to now
            idle = _status_kb("VmRSS") * 1024
            try:
                outcome = run(data)
            except Exception as exc:  # what the side's caller catches and logs
                outcome = f"{type(exc).__name__}: {exc}"
            peak = _status_kb("VmHWM") * 1024
            row: dict[str, object] = {
                "side": side,
                "file": path.name,
                "idle_rss": idle,
                "peak": peak,
                "growth": peak - idle,
                "outcome": outcome,
            }
            if side == "opencv":
                from booth.images import decoder_bytes, inspect

                row["estimate"] = decoder_bytes(inspect(data))
            del data
            rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    side, *paths = argv
    for row in measure(side, [Path(p) for p in paths]):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
