"""The happy path on a real broker with the real SDK against the fake Gemini server."""

from __future__ import annotations

import cv2
import numpy as np

from booth.config import DRIP_PROMPT
from booth.protocol import Effect, JobStatus
from tests.support.fake_gemini import Reply
from tests.worker.helpers import FIXTURES, decode, jpeg_of, portrait_bytes


def test_success_statuses_in_order_prompt_and_downsized_image(
    worker_config, start_worker, kiosk, fake, out_dir
):
    cfg = worker_config("model_long_side = 400")
    start_worker(cfg)
    big = cv2.resize(cv2.imread(str(FIXTURES / "portrait.jpg")), (1536, 1536))
    job = kiosk.send(jpeg_of(big))
    final = kiosk.final(job)
    assert final is not None and final.status is JobStatus.COMPLETED
    seq = [s.status for s in kiosk.statuses(job)]
    assert seq == [JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED]
    assert final.effect is Effect.GEMINI and final.error is None and final.worker == "w1"
    results = kiosk.results(job)
    assert len(results) == 1
    data, props = results[0]
    assert props.ContentType == "image/jpeg"
    img = decode(data)
    assert img is not None and max(img.shape[:2]) == 400
    # the fake's visible change (gold frame) is in the result
    assert img[2, 200].tolist() != big[2, 600].tolist()
    (out_dir / "gemini-success.jpg").write_bytes(data)
    [req] = fake.requests
    assert req.prompt == DRIP_PROMPT
    assert req.has_api_key and req.model == "gemini-2.5-flash-image"
    assert req.image_size is not None and max(req.image_size) <= 400


def test_png_answer_with_text_part_becomes_a_jpeg_result(worker_config, start_worker, kiosk, fake):
    fake.script(Reply.image(mime="image/png", text="Here is your picture"))
    start_worker(worker_config())
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job)
    assert final.status is JobStatus.COMPLETED and final.effect is Effect.GEMINI
    data, props = kiosk.results(job)[0]
    assert data[:3] == b"\xff\xd8\xff" and decode(data).shape[:2] == (512, 512)


def test_style_preset_prompt_and_model_from_environment(worker_config, start_worker, kiosk, fake):
    extra = (
        '[styles.drip]\nlabel = "Drip"\nprompt = "drip prompt"\n'
        '[styles.gold]\nlabel = "Gold"\nprompt = "Make everything gold"\n'
    )
    cfg = worker_config(extra=extra, GEMINI_MODEL="gemini-3.1-flash-image")
    start_worker(cfg)
    job = kiosk.send(portrait_bytes(), style="gold")
    assert kiosk.final(job).status is JobStatus.COMPLETED
    job2 = kiosk.send(portrait_bytes(), style="nosuchstyle")
    assert kiosk.final(job2).status is JobStatus.COMPLETED
    prompts = [r.prompt for r in fake.requests]
    assert prompts == ["Make everything gold", "drip prompt"]
    assert {r.model for r in fake.requests} == {"gemini-3.1-flash-image"}


def test_png_job_is_accepted(worker_config, start_worker, kiosk, fake):
    start_worker(worker_config())
    ok, buf = cv2.imencode(".png", np.full((300, 200, 3), 120, np.uint8))
    job = kiosk.send(buf.tobytes(), content_type="image/png")
    assert kiosk.final(job).status is JobStatus.COMPLETED
    assert fake.requests[0].image_size == (200, 300)
