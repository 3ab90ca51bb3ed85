"""Typed configuration: built-in defaults < TOML file < environment.

Every field carries a one-line description, shown by `booth doctor --print-config` and written
into docs/config.md by booth/configdoc.py (a test keeps that page in step). An unknown key or a
bad value stops start-up with a :class:`ConfigError` naming the file, the key and what is
allowed. Secrets come only from the environment and are never printed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from booth.protocol import NODE_ID_RE, ROOT_RE, STYLE_RE
from booth.texts import LANGUAGES, Texts, check_override, placeholders

DEFAULT_CONFIG_PATH = Path("/etc/booth/booth.toml")
DRIP_PROMPT = "Add a bust down diamond chain, if the person is smiling, make have diamond grills"
# What the local effect (worker/local_effect.py) can draw for a style, when there is no AI or
# the AI failed: `diamond` an iced chain over a gold Cuban link with diamond-set gold grills on a
# smile; `gold` an all-gold Cuban chain and medallion with plain gold grills; `ice` white metal,
# diamonds everywhere, white grills. Styles that share a variant look alike without the AI, so
# the kiosk then offers only one of them (kiosk/ui/offer.py, offered_styles).
LOCAL_VARIANTS = ("diamond", "gold", "ice")
CAPTION_FIELDS = {"title", "date"}


class ConfigError(ValueError):
    """Configuration that cannot be used; the message says where and what is allowed."""


def _f(
    default: Any,
    doc: str,
    *,
    choices: tuple[str | int, ...] = (),
    min: float | None = None,
    max: float | None = None,
    secret: bool = False,
    factory: Any = None,
) -> Any:
    meta = {"doc": doc, "choices": choices, "min": min, "max": max, "secret": secret}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _hostname_id() -> str:
    name = socket.gethostname().split(".")[0] or "booth"
    cleaned = "".join(c if (c.isalnum() or c in "_-") else "-" for c in name)[:64]
    return cleaned or "booth"


@dataclass
class MqttConfig:
    url: str = _f(
        "mqtt://localhost:1883", "Broker URL: mqtt://user:pass@host:port, mqtts:// for TLS"
    )
    root: str = _f("booth", "First topic level of every topic ({root}/{booth}/…)")
    keepalive_s: int = _f(30, "MQTT keepalive in seconds", min=5, max=3600)
    session_expiry_s: int = _f(
        3600, "Persistent session expiry in seconds (≥ 1 hour for workers)", min=0, max=7 * 86400
    )
    ca_file: str = _f("", "CA certificate file for mqtts:// (empty: the system's trust store)")


@dataclass
class GeminiConfig:
    model: str = _f("gemini-2.5-flash-image", "Image model name (GEMINI_MODEL)")
    base_url: str = _f("", "API base URL; empty means Google's (GEMINI_BASE_URL)")
    api_version: str = _f("v1beta", "API version path segment")
    request_timeout_s: float = _f(
        30.0,
        "Longest wall time of one model request in seconds (the whole answer, not each read)",
        min=1,
        max=600,
    )
    api_key: str = _f("", "API key: from the environment only (GEMINI_API_KEY)", secret=True)
    max_response_bytes: int = _f(
        20_000_000,
        "Largest model answer read, in bytes (a larger one "
        "is cut off and the job gets the local effect)",
        min=1_000_000,
        max=200_000_000,
    )


@dataclass
class WorkerConfig:
    id: str = _f(
        "", "Worker id = MQTT client id (empty: worker-<hostname>-<slot>, stable across restarts)"
    )
    concurrency: int = _f(
        2, "Jobs one worker processes at once (also its MQTT receive maximum)", min=1, max=64
    )
    deadline_s: float = _f(
        45.0,
        "Seconds from the shot (queue time included) by which a job's "
        "picture is published; model calls stop in time for the local effect",
        min=1,
        max=3600,
    )
    max_bytes: int = _f(15_000_000, "Largest accepted job payload in bytes", min=1000)
    max_pixels: int = _f(
        40_000_000, "Largest accepted image in pixels (decompression-bomb guard)", min=10_000
    )
    model_long_side: int = _f(
        1536, "Long side in pixels of the image sent to the model", min=64, max=8192
    )
    fallback: str = _f(
        "local",
        "What to do when the AI fails: 'local' effect or 'none' (fail)",
        choices=("local", "none"),
    )
    dedupe_hours: float = _f(
        24.0, "Hours a finished job's result is kept to answer duplicates", min=0
    )
    grace_s: float = _f(20.0, "Seconds in-flight jobs get to finish on SIGTERM", min=0, max=600)
    jpeg_quality: int = _f(90, "JPEG quality of results", min=30, max=100)
    result_long_side: int = _f(
        2048,
        "Long side in pixels a model's picture is shrunk to before it is published",
        min=256,
        max=8192,
    )
    service_pause_s: float = _f(
        300.0,
        "After the AI service refuses the key, model, region, "
        "billing or a used-up quota: seconds every job gets the local "
        "effect before one job asks the model again",
        min=1,
        max=86400,
    )
    breaker_failures: int = _f(
        3,
        "Consecutive model calls failing with an outage (5xx, no "
        "connection, timeout) that stop model calls for a while",
        min=1,
        max=100,
    )
    breaker_open_s: float = _f(
        30.0,
        "Seconds model calls stay stopped after an outage before one job probes the model again",
        min=1,
        max=3600,
    )


@dataclass
class KioskConfig:
    title: str = _f("Drip Me Out", "Event title shown on the screens and the download page")
    default_style: str = _f("drip", "Style preset used when the guest does not choose one")
    fps: int = _f(30, "Frame rate of screens with a live preview", min=5, max=120)
    idle_fps: int = _f(
        5, "Frame rate of screens without a live preview (keeps a Pi cool)", min=1, max=60
    )
    windowed: bool = _f(False, "Run in a window instead of fullscreen (laptops)")
    window_width: int = _f(1280, "Window width with windowed = true", min=320, max=7680)
    window_height: int = _f(720, "Window height with windowed = true", min=240, max=4320)
    kiosk_lock: bool = _f(True, "Ignore Esc so guests cannot leave the booth screen")
    countdown_s: int = _f(3, "Countdown seconds before the shot", min=0, max=10)
    redispatch_s: float = _f(
        30.0,
        "Re-publish a job with no 'processing' status after this "
        "long, or with no final status this long past worker.deadline_s",
        min=1,
    )
    max_wait_s: float = _f(
        60.0,
        "Longest a guest waits on the processing screen; then it says "
        "the photo will appear in the recent strip and returns to the start",
        min=10,
        max=3600,
    )
    slow_after_s: float = _f(25.0, "Show 'taking longer than usual' after this many seconds", min=1)
    result_timeout_s: float = _f(
        60.0, "Return from the result screen to the start after this long", min=5
    )
    ai_long_side: int = _f(1536, "Long side of the copy sent to the AI", min=256, max=8192)
    jpeg_quality: int = _f(92, "JPEG quality of saved shots", min=30, max=100)
    logo: str = _f("", "Optional logo image (PNG) drawn in a corner (and in the caption bar)")
    frame_overlay: str = _f(
        "", "Optional transparent PNG burned into every result, stretched to its full size"
    )
    caption: str = _f(
        "", "Caption bar burned under every result, e.g. '{title} · {date}' (empty: none)"
    )
    privacy: str = _f(
        "",
        "Privacy line on the start screen (empty: a default line while an AI "
        "service is in use; 'off': none)",
    )
    language: str = _f(
        "en",
        "Language of the guest texts on the screen, and on the phone page when the phone asks for"
        " none of ours",
        choices=LANGUAGES,
    )
    gpio_button: int = _f(0, "BCM pin of an arcade button (0: none)", min=0, max=27)
    mode: str = _f(
        "single",
        "'single': one tap, one photo; 'strip': one tap runs a session of strip.shots photos "
        "composed into one sheet ([strip])",
        choices=("single", "strip"),
    )
    recent_count: int = _f(6, "Photos in the recent-photos strip", min=0, max=20)
    recent_qr_s: float = _f(
        180.0,
        "Seconds a recent-strip photo still reopens its download QR (0: no limit)",
        min=0,
        max=7 * 86400,
    )


@dataclass
class CameraConfig:
    backend: str = _f("auto", "Camera backend", choices=("auto", "picamera2", "opencv", "file"))
    index: int = _f(0, "OpenCV webcam index", min=0, max=16)
    folder: str = _f("", "Folder of photos for the file camera (empty: bundled samples)")
    preview_width: int = _f(1280, "Preview stream width", min=160, max=4096)
    preview_height: int = _f(720, "Preview stream height", min=120, max=4096)
    frame_timeout_s: float = _f(2.0, "No frame for this long restarts the camera", min=0.2, max=60)
    # The Pi camera: its mount rotation, and when a camera stall needs a new process.
    rotation: int = _f(
        0,
        "Rotate the camera image clockwise by this many degrees (a camera "
        "mounted sideways for a portrait screen: 90 or 270)",
        choices=(0, 90, 180, 270),
    )
    restart_limit_s: float = _f(
        60.0,
        "Camera not live for this long: the kiosk exits so systemd restarts it (0: never)",
        min=0,
        max=3600,
    )


@dataclass
class ShareConfig:
    host: str = _f("0.0.0.0", "Address the download server listens on")
    port: int = _f(8080, "Port of the download server", min=1, max=65535)
    public_url: str = _f("", "Base URL in the QR code (empty: http://<LAN address>:<port>)")
    wifi_ssid: str = _f("", "Booth Wi-Fi name for a join-Wi-Fi QR (empty: none)")
    wifi_password: str = _f("", "Booth Wi-Fi password for the join-Wi-Fi QR", secret=True)
    portal: bool = _f(
        False,
        "Captive portal for the booth's own Wi-Fi: answer phones' "
        "connectivity checks, 'scan the photo QR' page at any other address",
    )
    admin_password: str = _f(
        "", "Operator gallery password: environment only (BOOTH_ADMIN_PASSWORD)", secret=True
    )
    retention_every_s: float = _f(
        3600.0, "Seconds between retention runs of the share server", min=10, max=86400
    )
    # Hostile clients and the operator listener (share/conncaps.py, share/admin.py).
    admin_host: str = _f(
        "127.0.0.1",
        "Address of the operator listener (/admin): 127.0.0.1 "
        "keeps it off the guests' network; or the booth's ethernet address; "
        "empty: no operator pages",
    )
    admin_port: int = _f(8081, "Port of the operator listener", min=1, max=65535)
    header_timeout_s: float = _f(
        10.0,
        "A new connection must send its request headers within this many seconds",
        min=1,
        max=300,
    )
    idle_timeout_s: float = _f(
        15.0, "Close a keep-alive connection idle for this many seconds", min=1, max=3600
    )
    max_connections_per_address: int = _f(
        32,
        "Open connections allowed from one address (an IPv6 client: its /64)",
        min=2,
        max=100_000,
    )
    max_connections: int = _f(
        4000,
        "Open connections allowed in all (lowered to fit the file-descriptor limit)",
        min=16,
        max=1_000_000,
    )
    orphan_grace_s: float = _f(
        3600.0,
        "Retention clears a retained status/result of a job the "
        "ledger does not know once it has been seen this long",
        min=60,
        max=30 * 86400,
    )


# ---- [cloud]: S3-compatible sharing ------------------------------------------------------------
@dataclass
class CloudConfig:
    enabled: bool = _f(
        False,
        "Upload results and their phone page to an S3-compatible bucket so "
        "the QR works on mobile data (off: LAN links only)",
    )
    endpoint_url: str = _f(
        "",
        "S3 API endpoint, e.g. https://<account>.r2.cloudflarestorage.com "
        "(empty: AWS S3 in `region`)",
    )
    region: str = _f(
        "us-east-1",
        "Signing region ('auto' for Cloudflare R2; the bucket's region for AWS, B2, Garage)",
    )
    bucket: str = _f("", "Bucket name")
    key_prefix: str = _f("booth/", "Prefix of every object key (a lifecycle rule can match it)")
    addressing_style: str = _f(
        "auto",
        "Bucket in the path or in the host name ('auto': virtual "
        "for AWS, path for any other endpoint)",
        choices=("auto", "path", "virtual"),
    )
    public_base_url: str = _f(
        "",
        "Public URL of the bucket's root (public bucket, CDN, custom "
        "domain); links are it + '/' + key: short QR. Empty: presigned "
        "links",
    )
    link_days: float = _f(
        7.0,
        "Days a presigned link works (at most 7, the S3 limit; never beyond retention_days)",
        min=0.01,
        max=7,
    )
    timeout_s: float = _f(
        30.0,
        "Timeout of one bucket request in seconds (a photo's upload also gets the time its "
        "size takes on a very slow uplink)",
        min=1,
        max=600,
    )
    retry_max_s: float = _f(
        30.0,
        "Longest wait between upload retries while the bucket is unreachable",
        min=0.5,
        max=3600,
    )
    access_key_id: str = _f(
        "", "Access key id: environment only (BOOTH_CLOUD_ACCESS_KEY_ID)", secret=True
    )
    secret_access_key: str = _f(
        "", "Secret access key: environment only (BOOTH_CLOUD_SECRET_ACCESS_KEY)", secret=True
    )


# ---- end [cloud] -------------------------------------------------------------------------------


# ---- [operator]: the operator's view -----------------------------------------------------------
@dataclass
class OperatorConfig:
    event_start: str = _f(
        "",
        "Start of the event the dashboard counts, local time "
        "'YYYY-MM-DD HH:MM' (empty: since the first photo after the last pause "
        "of event_gap_hours)",
    )
    event_gap_hours: float = _f(
        6.0,
        "A pause without photos this long ends an event: the next "
        "photo starts a new one (a party past midnight stays one event)",
        min=0.5,
        max=24 * 30,
    )
    disk_low_mb: int = _f(
        1000,
        "Free space in data_dir below this raises the operator mark (below a fifth of it: red)",
        min=50,
        max=1_000_000,
    )
    camera_alert_s: float = _f(
        60.0, "The camera reconnecting for this long raises the operator mark", min=1, max=3600
    )
    health_every_s: float = _f(
        30.0,
        "Seconds between health reports of the kiosk and the share "
        "server (a change is reported at once)",
        min=2,
        max=600,
    )
    mark: bool = _f(
        True,
        "Show the operator mark on the booth screen when something needs the "
        "operator (a long press on it or the F1 key shows why)",
    )
    metrics_token: str = _f(
        "",
        "Bearer token Prometheus sends to /metrics on the operator "
        "listener: environment only (BOOTH_METRICS_TOKEN); empty: /metrics "
        "needs an operator session",
        secret=True,
    )


# ---- end [operator] ----------------------------------------------------------------------------


# ---- [print]: prints through CUPS (docs/printing.md) ---------------------------------------------
PRINT_MEDIA = ("4x6", "2x6", "a6")
# The CUPS queue's name goes into IPP URIs and paths: a safe subset of what lpadmin allows.
PRINT_QUEUE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,127}$")


@dataclass
class PrintConfig:
    enabled: bool = _f(
        False,
        "Print photos through CUPS (the booth-printer process): a Print button on the "
        "result screen, or every photo (mode)",
    )
    queue: str = _f(
        "booth", "CUPS queue the prints go to (`lpstat -p` lists them; docs/printing.md adds one)"
    )
    server: str = _f(
        "",
        "CUPS server: a socket path or host:port (empty: $CUPS_SERVER, else "
        "/run/cups/cups.sock, else localhost:631)",
    )
    mode: str = _f(
        "button",
        "'button': a Print button on the result screen; 'auto': every picture is printed",
        choices=("button", "auto"),
    )
    copies: int = _f(
        1,
        "Prints of one photo: what a guest may ask for in all (button), or what every "
        "photo gets (auto)",
        min=1,
        max=10,
    )
    budget: int = _f(
        400,
        "Paper budget per event, in prints (a DNP 4x6 roll is 400; 0: none); printing stops "
        "when it is used up, the operator adds paper on the dashboard",
        min=0,
        max=100_000,
    )
    media: str = _f(
        "4x6",
        "Paper: '4x6' (10x15 cm), '2x6' (5x15 cm strip) or 'a6'",
        choices=PRINT_MEDIA,
    )
    media_name: str = _f(
        "",
        "Media name sent to CUPS (empty: the PWG name of `media`, e.g. na_index-4x6_4x6in); "
        "a driver's own size name, e.g. w288h432-div2 for strips cut from a 4x6 roll",
    )
    fit: str = _f(
        "fit",
        "'fit': all of the picture with its frame and caption, on white; 'fill': it covers "
        "the paper, its edges cropped (with a caption bar, off the top only)",
        choices=("fit", "fill"),
    )
    dpi: int = _f(
        300, "Print resolution in dots per inch (dye-sub printers: 300)", min=100, max=600
    )
    auto_resume: bool = _f(
        True,
        "Resume a stopped CUPS queue by itself once the printer is ready again "
        "(docs/printing.md says when)",
    )
    ready_for_s: float = _f(
        10.0,
        "Seconds the printer must be ready before a stopped queue is resumed",
        min=1,
        max=600,
    )


# ---- end [print] -------------------------------------------------------------------------------


@dataclass
class StripConfig:
    shots: int = _f(4, "Photos in one strip session, each with its own countdown", min=3, max=4)
    layout: str = _f(
        "strip",
        "'strip': the frames one above the other on a 2x6 in strip (600x1800 at 300 dpi); "
        "'grid': two by two on a 4x6 in sheet (1800x1200, or 1200x1800 on a portrait screen)",
        choices=("strip", "grid"),
    )
    pause_s: float = _f(
        2.0,
        "Seconds the photo just taken is shown before the next countdown starts",
        min=0.5,
        max=10,
    )


@dataclass
class Style:
    label: str
    prompt: str
    local: str = "diamond"  # the local effect's variant for this style (LOCAL_VARIANTS)


def _default_styles() -> dict[str, Style]:
    return {"drip": Style(label="Drip", prompt=DRIP_PROMPT)}


@dataclass
class Config:
    booth_id: str = _f("", "This kiosk's id in topics (empty: the hostname)")
    data_dir: str = _f("/var/lib/booth", "Where photos, results and the ledger live")
    retention_days: float = _f(7.0, "Delete photos and jobs older than this many days", min=0.01)
    trust_clock: bool = _f(
        False,
        "Trust the system clock without network time (a Pi 5 with "
        "its RTC battery): retention otherwise waits for NTP",
    )
    log_level: str = _f("INFO", "Log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    gemini: GeminiConfig = field(default_factory=GeminiConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    kiosk: KioskConfig = field(default_factory=KioskConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    share: ShareConfig = field(default_factory=ShareConfig)
    cloud: CloudConfig = field(default_factory=CloudConfig)
    operator: OperatorConfig = field(default_factory=OperatorConfig)
    print: PrintConfig = field(default_factory=PrintConfig)
    strip: StripConfig = field(default_factory=StripConfig)
    styles: dict[str, Style] = field(default_factory=_default_styles)
    texts: dict[str, str] = field(default_factory=dict)  # guest text overrides (booth/texts.py)
    source: str = "(defaults)"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    def style(self, name: str) -> Style:
        return self.styles.get(name) or self.styles[self.kiosk.default_style]

    def guest_texts(self) -> Texts:
        """The guest texts this config asks for (`kiosk.language` and the `[texts]` overrides)."""
        return Texts(self.kiosk.language, self.texts)


SECTIONS = {
    "mqtt": MqttConfig,
    "gemini": GeminiConfig,
    "worker": WorkerConfig,
    "kiosk": KioskConfig,
    "camera": CameraConfig,
    "share": ShareConfig,
    "cloud": CloudConfig,
    "operator": OperatorConfig,
    "print": PrintConfig,
    "strip": StripConfig,
}

# Environment overrides every process honours (listed in docs/config.md): variable → dotted key.
ENV_OVERRIDES = {
    "BOOTH_MQTT_URL": "mqtt.url",
    "BOOTH_ID": "booth_id",
    "BOOTH_DATA_DIR": "data_dir",
    "GEMINI_BASE_URL": "gemini.base_url",
    "GEMINI_MODEL": "gemini.model",
    "BOOTH_FALLBACK": "worker.fallback",
    # Booth Wi-Fi: /etc/booth/hotspot.env, written by deploy/install.sh --hotspot.
    "BOOTH_WIFI_SSID": "share.wifi_ssid",
    "BOOTH_WIFI_PASSWORD": "share.wifi_password",
    "BOOTH_PUBLIC_URL": "share.public_url",
    "BOOTH_PORTAL": "share.portal",
    "BOOTH_MQTT_CA_FILE": "mqtt.ca_file",
}
# Secrets: only ever from the environment.
ENV_SECRETS = {
    "GEMINI_API_KEY": "gemini.api_key",
    "BOOTH_ADMIN_PASSWORD": "share.admin_password",
    # read by the share process only (/etc/booth/cloud.env)
    "BOOTH_CLOUD_ACCESS_KEY_ID": "cloud.access_key_id",
    "BOOTH_CLOUD_SECRET_ACCESS_KEY": "cloud.secret_access_key",
    "BOOTH_METRICS_TOKEN": "operator.metrics_token",
}
# Secrets that a config file may not hold (the Wi-Fi password may: guests see it anyway).
ENV_ONLY = {key.rsplit(".", 1)[1] for key in ENV_SECRETS.values()}


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Load the effective config.

    `path` None → $BOOTH_CONFIG, else /etc/booth/booth.toml if present."""
    env = os.environ if env is None else env
    cfg = Config()
    file_path: Path | None = None
    if path is not None:
        file_path = Path(path)
        if not file_path.is_file():
            raise ConfigError(f"{file_path}: config file not found")
    elif env.get("BOOTH_CONFIG"):
        file_path = Path(env["BOOTH_CONFIG"])
        if not file_path.is_file():
            raise ConfigError(f"{file_path}: config file (from BOOTH_CONFIG) not found")
    elif DEFAULT_CONFIG_PATH.is_file():
        file_path = DEFAULT_CONFIG_PATH
    if file_path is not None:
        try:
            text = file_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file_path}: cannot read: {exc}") from exc
        try:
            data = tomllib.loads(text)
        except (ValueError, RecursionError) as exc:
            # ValueError: TOMLDecodeError, and an integer longer than Python converts;
            # RecursionError: arrays or tables nested deeper than the parser's stack
            raise ConfigError(f"{file_path}: not valid TOML: {_shown(exc)}") from None
        _apply_file(cfg, data, str(file_path))
        cfg.source = str(file_path)
    for var, key in ENV_OVERRIDES.items():
        if env.get(var, "") != "":
            _set_key(cfg, key, env[var], f"environment {var}", from_env=True)
    for var, key in ENV_SECRETS.items():
        if env.get(var, "") != "":
            _set_key(cfg, key, env[var], f"environment {var}", from_env=True, allow_secret=True)
    _finish(cfg)
    return cfg


def _apply_file(cfg: Config, data: dict[str, Any], where: str) -> None:
    top = {f.name: f for f in dataclasses.fields(Config) if f.name != "source"}
    for key, value in data.items():
        if key == "styles":
            cfg.styles = _parse_styles(value, where)
        elif key == "texts":
            cfg.texts = _parse_texts(value, where)
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            for sub, subval in value.items():
                _set_key(cfg, (key, sub), subval, where)
        elif key in top:
            _set_key(cfg, (key,), value, where)
        else:
            allowed = ", ".join(sorted(top))  # the sections, styles and texts among them
            raise ConfigError(f"{where}: unknown key {_shown(key)}; allowed: {allowed}")


def _parse_styles(value: Any, where: str) -> dict[str, Style]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: [styles] must be a table of presets like [styles.drip]")
    styles = {}
    for name, spec in value.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: styles.{name} must be a table with label and prompt")
        if not STYLE_RE.match(name):
            raise ConfigError(f"{where}: style name {name!r} must be letters, digits, _ or -")
        unknown = set(spec) - {"label", "prompt", "local"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown key styles.{name}.{sorted(unknown)[0]}; "
                "allowed: label, prompt, local"
            )
        for k in ("label", "prompt"):
            if not isinstance(spec.get(k), str) or not spec[k].strip():
                raise ConfigError(f"{where}: styles.{name}.{k} must be a non-empty string")
        local = spec.get("local", "diamond")
        if local not in LOCAL_VARIANTS:
            raise ConfigError(
                f"{where}: styles.{name}.local = {local!r} is not allowed; "
                f"allowed: {', '.join(LOCAL_VARIANTS)}"
            )
        styles[name] = Style(label=spec["label"], prompt=spec["prompt"], local=local)
    return styles


def _parse_texts(value: Any, where: str) -> dict[str, str]:
    """`[texts]`: guest texts replacing the catalog's (booth/texts.py) in the chosen language."""
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: [texts] must be a table of text = "…"')
    texts = {}
    for key, text in value.items():
        if not isinstance(text, str):
            raise ConfigError(f"{where}: texts.{key} must be a string")
        problem = check_override(key, text)
        if problem:
            raise ConfigError(f"{where}: {problem}")
        texts[key] = text
    return texts


def _lookup(cfg: Config, key: tuple[str, ...]) -> tuple[Any, dataclasses.Field[Any]]:
    """The object and field of a key given as its names (("mqtt", "url")): a TOML key may
    itself hold a dot (`"a.b" = 1`), so the names are never split out of a dotted string."""
    obj: Any = cfg
    for part in key[:-1]:
        if part not in SECTIONS or obj is not cfg:
            raise ConfigError(f"unknown key {_shown('.'.join(key))}")
        obj = getattr(cfg, part)
    fields = {f.name: f for f in dataclasses.fields(obj) if f.name != "source"}
    if obj is cfg:
        fields = {n: f for n, f in fields.items() if n not in SECTIONS}
        fields = {n: f for n, f in fields.items() if n not in ("styles", "texts")}
    if key[-1] not in fields:
        allowed = ", ".join(sorted(fields))
        raise ConfigError(f"unknown key {_shown('.'.join(key))}; allowed: {allowed}")
    return obj, fields[key[-1]]


def _set_key(
    cfg: Config,
    key: str | tuple[str, ...],
    value: Any,
    where: str,
    *,
    from_env: bool = False,
    allow_secret: bool = False,
) -> None:
    """Set one setting (`key` as its names, or dotted when it comes from this module's own
    tables) from a file or environment value, checked and coerced to its field's type."""
    names = tuple(key.split(".")) if isinstance(key, str) else key
    try:
        obj, f = _lookup(cfg, names)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    dotted = ".".join(names)
    meta = f.metadata
    if meta.get("secret") and not allow_secret and f.name in ENV_ONLY:
        raise ConfigError(f"{where}: {dotted} is a secret and is read only from the environment")
    setattr(obj, f.name, _coerce(dotted, f, value, where, from_env))


def _coerce(key: str, f: dataclasses.Field[Any], value: Any, where: str, from_env: bool) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    meta = f.metadata
    bad = f"{where}: {key} = {_shown(value)} is not allowed; "
    if kind == "bool":
        if (
            from_env
            and isinstance(value, str)
            and value.lower() in ("1", "true", "yes", "0", "false", "no")
        ):
            value = value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigError(bad + "expected true or false")
    elif kind == "int":
        if from_env and isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(bad + "expected a whole number") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(bad + "expected a whole number")
        if not -LARGEST_INT <= value <= LARGEST_INT:
            raise ConfigError(bad + f"expected a whole number of at most {LARGEST_INT}")
    elif kind == "float":
        if from_env and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(bad + "expected a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(bad + "expected a number")
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(bad + "expected a finite number") from None
        if not math.isfinite(value):  # nan passes every comparison below
            raise ConfigError(bad + "expected a finite number")
    elif kind == "str":
        if not isinstance(value, str):
            raise ConfigError(bad + "expected a string")
        try:  # the environment hands over bytes that are not UTF-8 as lone surrogates
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(bad + "expected UTF-8 text") from None
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(bad + "allowed: " + ", ".join(map(str, meta["choices"])))
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(bad + f"minimum is {meta['min']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(bad + f"maximum is {meta['max']}")
    return value


# The largest whole number a setting may hold: what a C long (time, sockets, SQLite) takes.
LARGEST_INT = 2**63 - 1


def _shown(value: Any, limit: int = 80) -> str:
    """A value (or an error) for a one-line message: its repr cut short, since a file may hold
    a 4000-digit number or a long line."""
    text = str(value).replace("\n", " ") if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finish(cfg: Config) -> None:
    where = cfg.source
    if not cfg.booth_id:
        cfg.booth_id = _hostname_id()
    if not NODE_ID_RE.match(cfg.booth_id):
        raise ConfigError(
            f"{where}: booth_id = {cfg.booth_id!r} is not allowed; use letters, "
            "digits, '.', '_' or '-' (at most 64)"
        )
    if not ROOT_RE.match(cfg.mqtt.root) or cfg.mqtt.root == "workers":
        raise ConfigError(
            f"{where}: mqtt.root = {cfg.mqtt.root!r} is not allowed; use letters, "
            "digits, '.', '_' or '-'"
        )
    if cfg.kiosk.default_style not in cfg.styles:
        raise ConfigError(
            f"{where}: kiosk.default_style = {cfg.kiosk.default_style!r} is not "
            f"allowed; styles defined: {', '.join(cfg.styles)}"
        )
    _check_wifi(cfg.share, where)
    _check_cloud(cfg.cloud, where)
    _check_operator(cfg.operator, where)
    _check_print(cfg.print, where)
    if cfg.share.admin_host and cfg.share.admin_port == cfg.share.port:
        raise ConfigError(
            f"{where}: share.admin_port = {cfg.share.admin_port} is not allowed; "
            "the operator listener needs a port of its own (not share.port)"
        )
    try:
        extra = placeholders(cfg.kiosk.caption) - CAPTION_FIELDS
    except ValueError:
        extra = {"?"}
    if extra:
        raise ConfigError(
            f"{where}: kiosk.caption = {cfg.kiosk.caption!r} is not allowed; "
            "placeholders: {title}, {date}"
        )
    if not cfg.mqtt.url.startswith(("mqtt://", "mqtts://")):
        raise ConfigError(
            f"{where}: mqtt.url = {mask_url(cfg.mqtt.url)!r} is not allowed; "
            "expected mqtt://[user:pass@]host[:port] or mqtts://…"
        )


def _check_wifi(share: ShareConfig, where: str) -> None:
    """A join QR with a name or password no phone accepts would fail every guest silently."""
    if len(share.wifi_ssid.encode("utf-8")) > 32:
        raise ConfigError(f"{where}: share.wifi_ssid is longer than 32 bytes, the Wi-Fi limit")
    pw = share.wifi_password
    if pw and not (
        8 <= len(pw) <= 63
        and pw.isascii()
        and pw.isprintable()
        or len(pw) == 64
        and all(c in "0123456789abcdefABCDEF" for c in pw)
    ):
        raise ConfigError(
            f"{where}: share.wifi_password is not allowed; WPA2 needs 8 to 63 "
            "printable ASCII characters (or 64 hex digits)"
        )
    if pw and not share.wifi_ssid:
        raise ConfigError(f"{where}: share.wifi_password is set but share.wifi_ssid is empty")


def _check_cloud(cloud: CloudConfig, where: str) -> None:
    """[cloud] as a whole; the credentials are checked where they are used (share, doctor)."""
    for key in ("endpoint_url", "public_base_url"):
        value = getattr(cloud, key)
        if value and not value.startswith(("https://", "http://")):
            raise ConfigError(
                f"{where}: cloud.{key} = {value!r} is not allowed; expected https://host[/path]"
            )
    if cloud.enabled and not cloud.bucket:
        raise ConfigError(f"{where}: cloud.enabled = true needs cloud.bucket")
    if cloud.key_prefix.startswith("/") or ".." in cloud.key_prefix.split("/"):
        raise ConfigError(
            f"{where}: cloud.key_prefix = {cloud.key_prefix!r} is not allowed; "
            "use a relative prefix such as 'booth/'"
        )


def _check_operator(op: OperatorConfig, where: str) -> None:
    if op.event_start:
        try:
            event_start_ts(op.event_start)
        except ValueError:
            raise ConfigError(
                f"{where}: operator.event_start = {op.event_start!r} is not "
                "allowed; expected local time 'YYYY-MM-DD HH:MM'"
            ) from None


def _check_print(pr: PrintConfig, where: str) -> None:
    if not PRINT_QUEUE_RE.match(pr.queue):
        raise ConfigError(
            f"{where}: print.queue = {pr.queue!r} is not allowed; use letters, digits, "
            "'.', '_' or '-'"
        )
    if pr.media_name and not re.match(r"^[A-Za-z0-9_.-]{1,64}$", pr.media_name):
        raise ConfigError(
            f"{where}: print.media_name = {pr.media_name!r} is not allowed; a media keyword "
            "such as na_index-4x6_4x6in"
        )


def event_start_ts(text: str) -> float:
    """operator.event_start ('YYYY-MM-DD HH:MM', local time) as a unix time."""
    import datetime as _dt

    return _dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").timestamp()


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***: whatever stands between the scheme's `://`
    (or the start) and the last `@` is the login, and what follows its first `:` the password
    (a password may itself hold `@` or `:`)."""
    head, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, sep, cred = head.partition("://")
    if not sep:
        scheme, cred = "", head
    user, colon, _password = cred.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{host}"


def settings(cfg: Config) -> list[tuple[str, dataclasses.Field[Any], Any]]:
    """(dotted key, field, value) for every setting: top level first, then each section."""
    out = []
    for prefix, obj in [("", cfg)] + [(name + ".", getattr(cfg, name)) for name in SECTIONS]:
        for f in dataclasses.fields(obj):
            if f.name not in ("source", "styles", "texts") and f.name not in SECTIONS:
                out.append((prefix + f.name, f, getattr(obj, f.name)))
    return out


def describe(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, shown value, description) for every field, secrets masked."""
    rows: list[tuple[str, str, str]] = []
    for key, f, value in settings(cfg):
        if f.metadata.get("secret"):
            shown = "(set, hidden)" if value else "(not set)"
        elif f.name == "url":
            shown = mask_url(value)
        else:
            shown = repr(value)
        rows.append((key, shown, f.metadata.get("doc", "")))
    for name, style in cfg.styles.items():
        rows.append(
            (
                f"styles.{name}",
                f"{style.label!r} (local: {style.local}): {style.prompt[:50]!r}",
                "style preset",
            )
        )
    for key, text in cfg.texts.items():
        rows.append((f"texts.{key}", repr(text), "guest text override"))
    return rows
