"""Configuration: defaults < file < environment, secrets from the environment only, clear errors."""

from __future__ import annotations

import pytest

from booth.config import ConfigError, describe, load_config, mask_url


def write(tmp_path, text: str):
    p = tmp_path / "booth.toml"
    p.write_text(text)
    return p


def test_defaults(tmp_path):
    cfg = load_config(write(tmp_path, ""), env={})
    assert cfg.mqtt.url == "mqtt://localhost:1883"
    assert cfg.mqtt.root == "booth"
    assert cfg.gemini.model == "gemini-2.5-flash-image"
    assert cfg.worker.fallback == "local" and cfg.worker.concurrency == 2
    assert cfg.kiosk.redispatch_s == 30 and cfg.retention_days == 7
    assert "diamond" in cfg.styles["drip"].prompt
    assert cfg.booth_id  # the hostname


def test_precedence_defaults_file_env(tmp_path):
    path = write(
        tmp_path,
        """
booth_id = "from-file"
data_dir = "/srv/file"
[mqtt]
url = "mqtt://file-host:1884"
[gemini]
model = "file-model"
[worker]
fallback = "none"
concurrency = 4
""",
    )
    cfg = load_config(path, env={})
    assert (cfg.booth_id, cfg.mqtt.url, cfg.gemini.model, cfg.worker.fallback) == (
        "from-file",
        "mqtt://file-host:1884",
        "file-model",
        "none",
    )
    env = {
        "BOOTH_ID": "from-env",
        "BOOTH_MQTT_URL": "mqtt://u:p@env-host:1885",
        "BOOTH_DATA_DIR": "/srv/env",
        "GEMINI_MODEL": "env-model",
        "GEMINI_BASE_URL": "http://127.0.0.1:9",
        "BOOTH_FALLBACK": "local",
        "GEMINI_API_KEY": "sekret",
        "BOOTH_ADMIN_PASSWORD": "adminpw",
    }
    cfg = load_config(path, env=env)
    assert cfg.booth_id == "from-env" and cfg.data_dir == "/srv/env"
    assert cfg.mqtt.url == "mqtt://u:p@env-host:1885"
    assert cfg.gemini.model == "env-model" and cfg.gemini.base_url == "http://127.0.0.1:9"
    assert cfg.worker.fallback == "local" and cfg.worker.concurrency == 4  # file value kept
    assert cfg.gemini.api_key == "sekret" and cfg.share.admin_password == "adminpw"


def test_booth_config_env_names_the_file(tmp_path):
    path = write(tmp_path, 'booth_id = "via-env-var"\n')
    assert load_config(None, env={"BOOTH_CONFIG": str(path)}).booth_id == "via-env-var"


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("[worker]\nconcurency = 3\n", ["worker.concurency", "allowed:", "concurrency"]),
        ("colour = 'red'\n", ["unknown key 'colour'", "allowed:"]),
        ("[worker]\nconcurrency = 'two'\n", ["worker.concurrency", "whole number"]),
        ("[worker]\nconcurrency = 0\n", ["worker.concurrency", "minimum is 1"]),
        ("[worker]\nfallback = 'maybe'\n", ["worker.fallback", "allowed: local, none"]),
        ("[camera]\nbackend = 'kinect'\n", ["camera.backend", "auto, picamera2, opencv, file"]),
        ("[kiosk]\nwindowed = 'yes'\n", ["kiosk.windowed", "true or false"]),
        ("[gemini]\napi_key = 'x'\n", ["gemini.api_key", "environment"]),
        ("[mqtt]\nurl = 'http://x'\n", ["mqtt.url", "mqtt://"]),
        ("mqtt = 3\n", ["[mqtt] must be a table"]),
        ("[styles.drip]\nlabel = 'D'\n", ["styles.drip.prompt"]),
        ("[kiosk]\ndefault_style = 'gold'\n", ["kiosk.default_style", "drip"]),
        ("this is = not toml [", ["not valid TOML"]),
    ],
)
def test_bad_config_names_file_key_and_allowed(tmp_path, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    msg = str(exc.value)
    assert str(path) in msg
    for frag in fragments:
        assert frag in msg, msg


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, ""), env={"BOOTH_FALLBACK": "sometimes"})
    assert "BOOTH_FALLBACK" in str(exc.value) and "local, none" in str(exc.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_styles_presets(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            """
[kiosk]
default_style = "gold"
[styles.gold]
label = "Gold"
prompt = "Add a gold chain"
[styles.ice]
label = "Ice"
prompt = "Add an ice chain"
""",
        ),
        env={},
    )
    assert list(cfg.styles) == ["gold", "ice"]
    assert cfg.style("ice").prompt == "Add an ice chain"
    assert cfg.style("unknown").label == "Gold"


def test_describe_masks_secrets_and_has_docs(tmp_path):
    cfg = load_config(
        write(tmp_path, ""),
        env={"GEMINI_API_KEY": "AIza-secret-value", "BOOTH_MQTT_URL": "mqtt://kiosk:pw123@h:1883"},
    )
    rows = describe(cfg)
    text = "\n".join(" ".join(r) for r in rows)
    assert "AIza-secret-value" not in text and "pw123" not in text
    assert "(set, hidden)" in text and "mqtt://kiosk:***@h:1883" in text
    assert all(doc for _, _, doc in rows)
    assert mask_url("mqtt://host:1") == "mqtt://host:1"


def test_docs_configuration_reference_is_current():
    """docs/config.md is what booth/configdoc.py writes from the fields: every key, default,
    allowed value, environment variable and description, in one place."""
    from pathlib import Path

    from booth.configdoc import COMMAND, reference_page

    page = Path(__file__).resolve().parents[2] / "docs" / "config.md"
    assert page.read_text() == reference_page(), (
        f"docs/config.md is stale: regenerate it with `{COMMAND}`"
    )


def test_styles_name_a_local_variant_and_the_caption_its_fields(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            '[styles.gold]\nlabel = "Gold"\nprompt = "p"\n'
            'local = "gold"\n[styles.drip]\nlabel = "D"\nprompt = "p"\n'
            '[kiosk]\ncaption = "{title} · {date}"\n',
        ),
        env={},
    )
    assert cfg.styles["gold"].local == "gold" and cfg.styles["drip"].local == "diamond"
    assert cfg.kiosk.recent_qr_s == 180 and cfg.kiosk.language == "en"
    with pytest.raises(
        ConfigError, match="local = 'platinum' is not allowed; allowed: diamond, gold, ice"
    ):
        load_config(
            write(
                tmp_path,
                '[styles.x]\nlabel = "X"\nprompt = "p"\nlocal = "platinum"\n'
                '[kiosk]\ndefault_style = "x"\n',
            ),
            env={},
        )
    with pytest.raises(ConfigError, match=r"kiosk.caption .* placeholders: \{title\}, \{date\}"):
        load_config(write(tmp_path, '[kiosk]\ncaption = "{title} {time}"\n'), env={})
