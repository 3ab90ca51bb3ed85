"""What the booth offers a guest right now: the styles, the privacy line, which recent photos
still open their download QR, the booth Wi-Fi to join. Plain functions of the config and the
booth's status (no pygame), so the screens stay simple and the rules are tested on their own
(tests/kiosk/test_offer.py).
"""

from __future__ import annotations

from booth.config import Config
from booth.qr import qr_matrix, wifi_join_payload
from booth.texts import Texts
from kiosk.jobs.views import JobView

PRIVACY_OFF = "off"


def offered_styles(cfg: Config, local_only: bool | None) -> list[str]:
    """The style buttons to show; empty means one shutter with the default style.

    Honest styles: unless the workers are known to use the AI (`local_only` False), a style is
    only as different as its local-effect variant, so one style per variant is offered (the
    default style keeps its place for its variant); one variant left means no choice at all.
    """
    names = list(cfg.styles)
    if local_only is not False:
        by_variant: dict[str, str] = {}
        for name in names:
            variant = cfg.styles[name].local
            if name == cfg.kiosk.default_style or variant not in by_variant:
                by_variant[variant] = name
        keep = set(by_variant.values())
        names = [n for n in names if n in keep]
    return names if len(names) > 1 else []


def style_label(cfg: Config, style: str | None) -> str | None:
    """The chosen style's label, to name it on the countdown and the result; None when the
    config has a single style (nothing was chosen)."""
    if len(cfg.styles) < 2:
        return None
    return cfg.style(style or cfg.kiosk.default_style).label


def privacy_line(cfg: Config, texts: Texts, local_only: bool | None) -> str:
    """The start screen's privacy line: the operator's own, or the default one while photos may
    go to an AI service (unknown counts as yes), or none ('off')."""
    own = cfg.kiosk.privacy.strip()
    if own.lower() == PRIVACY_OFF:
        return ""
    if own:
        return own
    if local_only is True:
        return ""
    return texts("privacy_ai", days=texts.days(cfg.retention_days))


def reopens_qr(job: JobView, now: float, limit_s: float) -> bool:
    """A recent-strip photo still opens its download QR: for `limit_s` after it was taken or,
    if later, after it finished (0: no limit). Older ones stay in the strip, without a QR."""
    if limit_s <= 0:
        return True
    since = max(job.created_at, job.finished_at or 0.0)
    return now - since <= limit_s


def wifi_join(cfg: Config) -> list[list[bool]] | None:
    """The join QR's modules (no quiet zone) for the booth Wi-Fi, or None without one: phones
    must be on the booth's network to reach the download server."""
    payload = wifi_join_payload(cfg.share.wifi_ssid, cfg.share.wifi_password)
    return qr_matrix(payload, border=0) if payload else None


def wifi_lines(cfg: Config, texts: Texts) -> list[str]:
    """The network name and the password (or that none is needed), printed under the join QR."""
    share = cfg.share
    secret = (
        texts("wifi_password", password=share.wifi_password)
        if share.wifi_password
        else texts("wifi_open")
    )
    return [texts("wifi_network", ssid=share.wifi_ssid), secret]
