"""The config loader (booth/config.py) on any file and any environment: it returns a Config whose
every number is finite and within its bounds, or raises ConfigError, which `booth` prints as one
line and exits 78 with; never a traceback. The files outside tools found are regression cases."""

from __future__ import annotations

import dataclasses
import json
import math
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.properties  # noqa: F401  (the Hypothesis profile)
from appliance.cli import main
from booth.config import (
    ENV_OVERRIDES,
    ENV_SECRETS,
    SECTIONS,
    Config,
    ConfigError,
    load_config,
    mask_url,
    settings,
)

# ---------------------------------------------------------------------------- TOML text
FIELDS = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in SECTIONS.items()}
TOP = [f.name for f in dataclasses.fields(Config) if f.name not in SECTIONS]


def toml_string(text: str) -> str:
    return json.dumps(text)  # JSON's escapes are TOML's (a lone surrogate makes it invalid)


def big_int_text(digits: int) -> str:
    return "1" + "0" * (digits - 1)


scalars = st.one_of(
    st.booleans().map(lambda b: "true" if b else "false"),
    st.integers(-(2**70), 2**70).map(str),
    st.integers(300, 5000).map(big_int_text),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: (
            "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf") if math.isinf(f) else repr(f)
        )
    ),
    st.text(max_size=30).map(toml_string),
    st.sampled_from(["1979-05-27T07:32:00Z", "07:32:00", "1979-05-27", "0x7f", "1e309", "-0.0"]),
)
toml_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
        | st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, max_size=2).map(
            lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}"
        )
    ),
    max_leaves=6,
) | st.integers(1, 1500).map(lambda n: "[" * n + "]" * n)


def keys(known: list[str]) -> st.SearchStrategy[str]:
    """A real field name, a quoted key (dots and all), or a dotted bare key."""
    return st.one_of(
        st.sampled_from(known),
        st.text(max_size=12).map(toml_string),
        st.sampled_from(known).map(lambda k: toml_string(k + "." + k)),
        st.sampled_from(known).map(lambda k: f"{k}.x"),
    )


@st.composite
def config_files(draw: st.DrawFn) -> str:
    lines = [f"{draw(keys(TOP))} = {draw(toml_values)}" for _ in range(draw(st.integers(0, 2)))]
    for _ in range(draw(st.integers(0, 3))):
        section = draw(
            st.sampled_from(sorted(FIELDS)) | st.sampled_from(["styles.drip", "texts", "nope"])
        )
        lines.append(f"[{section}]")
        known = FIELDS.get(section, ["label", "prompt", "local", "title", "x"])
        for _ in range(draw(st.integers(0, 3))):
            lines.append(f"{draw(keys(known))} = {draw(toml_values)}")
    return "\n".join(lines) + "\n"


def load_or_config_error(
    tmp_path: Path, text: str, env: dict[str, str] | None = None
) -> Config | None:
    path = tmp_path / "booth.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        cfg = load_config(path, env=env or {})
    except ConfigError as exc:
        assert "\n" not in str(exc)  # one line
        return None
    for key, f, value in settings(cfg):
        if isinstance(value, float):
            assert math.isfinite(value), key
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if lo is not None:
            assert value >= lo, key
        if hi is not None:
            assert value <= hi, key
    return cfg


# ---------------------------------------------------------------------------- properties
@given(config_files())
def test_any_config_file_loads_or_raises_config_error(tmp_path_factory, text):
    load_or_config_error(tmp_path_factory.mktemp("cfg"), text)


@given(st.text(max_size=200))
def test_any_text_loads_or_raises_config_error(tmp_path_factory, text):
    load_or_config_error(tmp_path_factory.mktemp("cfg"), text)


@given(
    st.dictionaries(
        st.sampled_from(sorted(ENV_OVERRIDES) + sorted(ENV_SECRETS)),
        st.text(max_size=30)
        | st.sampled_from(["nan", "inf", "1e999", "1" * 5000, "-1"])
        # bytes that are not UTF-8, as os.environ hands them over
        | st.binary(min_size=1, max_size=8).map(lambda b: b.decode("utf-8", "surrogateescape")),
        max_size=4,
    )
)
def test_any_environment_loads_or_raises_config_error(tmp_path_factory, env):
    load_or_config_error(
        tmp_path_factory.mktemp("cfg"), "", {k: v for k, v in env.items() if "\0" not in v}
    )


@given(
    st.sampled_from(["mqtt", "mqtts", "a@b", ""]),
    st.text(string.ascii_letters + "@:/.", max_size=10),
    st.text(string.digits + "#%&!", min_size=4, max_size=12),
    st.text(string.ascii_letters + "@:/.", max_size=12),
)
def test_mask_url_never_raises_and_hides_the_password(scheme, user, password, host):
    """The password never survives masking, wherever a colon or an at sign stands."""
    user = user.replace(":", "")
    for url in (f"{scheme}://{user}:{password}@{host}", f"{user}:{password}@{host}"):
        shown = mask_url(url)
        assert password not in shown, (url, shown)
    mask_url(scheme + user + host)


# ---------------------------------------------------------------------------- regressions
TRACEBACKS = {
    "quoted dotted key in [mqtt]": '[mqtt]\n"a.b" = 1\n',
    "quoted dotted key in [kiosk]": '[kiosk]\n"title.x" = "a"\n',
    "integer of 4301 digits": "retention_days = " + big_int_text(4301) + "\n",
    "arrays nested 1000 deep": "retention_days = " + "[" * 1000 + "]" * 1000 + "\n",
    "retention_days = 10**309": "retention_days = " + big_int_text(310) + "\n",
    "url that masks badly": '[mqtt]\nurl = "a@b://c"\n',
}


@pytest.mark.parametrize("text", TRACEBACKS.values(), ids=TRACEBACKS.keys())
def test_files_that_printed_a_traceback_exit_78_with_one_line(tmp_path, capsys, text):
    path = tmp_path / "booth.toml"
    path.write_text(text)
    assert main(["--config", str(path), "doctor", "--print-config"]) == 78
    err = capsys.readouterr().err
    assert err.startswith("booth: configuration error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and len(err) < 1000, err


@pytest.mark.parametrize("value", ["nan", "+nan", "-nan", "inf", "-inf"])
def test_not_a_number_and_infinity_are_refused(tmp_path, value):
    """nan passed every min/max check: retention ran every 1-2 s despite min 10."""
    path = tmp_path / "booth.toml"
    path.write_text(f"[share]\nretention_every_s = {value}\n")
    with pytest.raises(ConfigError, match="share.retention_every_s = .* finite number"):
        load_config(path, env={})


def test_the_unknown_key_message_names_each_key_once(tmp_path):
    path = tmp_path / "booth.toml"
    path.write_text("colour = 1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    allowed = str(exc.value).split("allowed: ", 1)[1].split(", ")
    assert len(allowed) == len(set(allowed)) and {"styles", "texts", "mqtt"} <= set(allowed)


def test_a_dotted_key_names_the_section_and_what_it_allows(tmp_path):
    path = tmp_path / "booth.toml"
    path.write_text('[kiosk]\n"title.x" = "a"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'kiosk\.title\.x'; allowed: .*title"):
        load_config(path, env={})


def test_an_environment_value_that_is_not_utf8_is_a_config_error(tmp_path):
    """BOOTH_WIFI_SSID from an env file in Latin-1 made _check_wifi raise UnicodeEncodeError
    (found by fuzz/fuzz_config.py)."""
    latin1 = b"Caf\xe9 booth".decode("utf-8", "surrogateescape")
    path = tmp_path / "booth.toml"
    path.write_text("")
    with pytest.raises(ConfigError, match="BOOTH_WIFI_SSID.*UTF-8"):
        load_config(path, env={"BOOTH_WIFI_SSID": latin1})
