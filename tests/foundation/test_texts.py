"""The guest text catalog: every language complete, overrides checked, dates without a locale."""

from __future__ import annotations

import time

import pytest

from booth.config import ConfigError, load_config
from booth.texts import CATALOG, EN, LANGUAGES, NBSP, Texts, placeholders


def test_every_language_has_every_text_with_the_same_placeholders():
    assert set(CATALOG) == set(LANGUAGES) and {"en", "de", "fr", "es"} <= set(LANGUAGES)
    for lang, texts in CATALOG.items():
        assert set(texts) == set(EN), (lang, set(EN) ^ set(texts))
        for key, text in texts.items():
            assert text.strip(), (lang, key)
            assert placeholders(text) == placeholders(EN[key]), (lang, key)
        assert len(texts["months"].split("|")) == 12
    # the translations are translations
    for lang in ("de", "fr", "es"):
        same = [k for k in EN if CATALOG[lang][k] == EN[k] and placeholders(EN[k]) != {"seconds"}]
        assert len(same) <= 2, (lang, same)


def test_texts_format_and_fall_back_to_english():
    t = Texts("de", {"ready": "Fertig, {title}!"})
    assert t("back_in", seconds=5) == "Zurück zum Start in 5\u00a0s"  # never broken before the unit
    assert t("ready") == "Fertig, {title}!"  # a value missing: left as written
    assert Texts("fr")("ready") == f"Votre drip est prêt{NBSP}!"
    assert Texts("de").days(1) == "1 Tag" and Texts("es").days(7) == "7 días"
    assert Texts("en").days(0.3) == "1 day"
    ts = time.mktime((2026, 3, 5, 12, 0, 0, 0, 0, -1))
    assert Texts("en").date(ts) == "5 March 2026"
    assert Texts("de").date(ts) == "5. März 2026"
    assert Texts("fr").date(ts) == "5 mars 2026"
    assert Texts("es").date(ts) == "5 de marzo de 2026"
    with pytest.raises(ValueError, match="unknown language"):
        Texts("xx")


def _load(tmp_path, text: str):
    path = tmp_path / "booth.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_the_config_picks_the_language_and_overrides_texts(tmp_path):
    cfg = _load(
        tmp_path,
        '[kiosk]\nlanguage = "es"\n[texts]\nready = "¡Listo, {{amigo}}!"\n'
        'start_button = "Toca aquí"\n',
    )

    t = cfg.guest_texts()
    assert t("start_button") == "Toca aquí" and t("ready") == "¡Listo, {amigo}!"
    assert t("new_photo") == "Nueva foto"


@pytest.mark.parametrize(
    "text,fragment",
    [
        ('[kiosk]\nlanguage = "klingon"\n', "allowed: en, de, fr, es"),
        ('[texts]\nno_such_text = "x"\n', "unknown text 'no_such_text'"),
        ('[texts]\nback_in = "Zurück in {sekunden} s"\n', "allowed placeholders: {seconds}"),
        ('[texts]\nready = "Fertig {"\n', "texts.ready"),
        ('[texts]\nmonths = "Jan|Feb"\n', "12 month names"),
        ("[texts]\nready = 5\n", "texts.ready must be a string"),
        ('texts = "x"\n', "[texts] must be a table"),
    ],
)
def test_bad_texts_are_refused_clearly(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert fragment in str(err.value) and "booth.toml" in str(err.value)
