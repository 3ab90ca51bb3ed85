"""[cloud] configuration: off by default, credentials from the environment only, clear errors."""

from __future__ import annotations

import pytest

from booth.config import ConfigError, describe, load_config
from share.cloud import endpoint_for


def _load(tmp_path, toml: str, **env: str):
    path = tmp_path / "booth.toml"
    path.write_text(toml)
    return load_config(path, env={"BOOTH_ID": "b1", **env})


def test_off_by_default_and_credentials_only_from_the_environment(tmp_path):
    cfg = _load(tmp_path, "")
    assert cfg.cloud.enabled is False and cfg.cloud.access_key_id == ""
    cfg = _load(
        tmp_path,
        '[cloud]\nenabled = true\nbucket = "photos"\n',
        BOOTH_CLOUD_ACCESS_KEY_ID="AKID",
        BOOTH_CLOUD_SECRET_ACCESS_KEY="sekret",
    )
    assert (cfg.cloud.access_key_id, cfg.cloud.secret_access_key) == ("AKID", "sekret")
    shown = {k: v for k, v, _ in describe(cfg)}
    assert shown["cloud.secret_access_key"] == "(set, hidden)" and "sekret" not in str(shown)
    for key in ("access_key_id", "secret_access_key"):
        with pytest.raises(
            ConfigError, match=f"cloud.{key} is a secret and is read only from the environment"
        ):
            _load(tmp_path, f'[cloud]\n{key} = "x"\n')


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[cloud]\nenabled = true\n", "cloud.enabled = true needs cloud.bucket"),
        ('[cloud]\nendpoint_url = "s3.example.com"\n', "cloud.endpoint_url = 's3.example.com'"),
        ('[cloud]\npublic_base_url = "ftp://x"\n', "expected https://host"),
        ('[cloud]\naddressing_style = "dns"\n', "allowed: auto, path, virtual"),
        ("[cloud]\nlink_days = 8\n", "maximum is 7"),
        ('[cloud]\nkey_prefix = "/abs/"\n', "use a relative prefix"),
    ],
)
def test_bad_cloud_settings_are_named(tmp_path, toml, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        _load(tmp_path, toml)


def test_addressing_styles_for_the_services(tmp_path):
    """R2, B2, MinIO, Garage: an endpoint URL, path style by default; AWS: virtual host."""
    r2 = _load(
        tmp_path,
        '[cloud]\nendpoint_url = "https://acc.r2.cloudflarestorage.com"\n'
        'region = "auto"\nbucket = "p"\n',
    ).cloud
    assert endpoint_for(r2).url == "https://acc.r2.cloudflarestorage.com"
    assert not endpoint_for(r2).virtual
    r2.addressing_style = "virtual"
    assert endpoint_for(r2).url == "https://p.acc.r2.cloudflarestorage.com"
    aws = _load(tmp_path, '[cloud]\nregion = "eu-west-1"\nbucket = "p"\n').cloud
    assert endpoint_for(aws).url == "https://p.s3.eu-west-1.amazonaws.com"
    aws.addressing_style = "path"
    assert endpoint_for(aws).url == "https://s3.eu-west-1.amazonaws.com"
