from pathlib import Path

import pytest

from mailcapture.config import ConfigError
from mailcapture.docs import render
from mailcapture.settings import SETTINGS, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_generated_tables_are_current() -> None:
    text = DOC.read_text()
    assert render(text) == text, "docs/configuration.md is stale: run python -m mailcapture.docs"


def test_stack_settings_documented() -> None:
    from mailcapture.stack.settings import SETTINGS as STACK_SETTINGS

    text = DOC.read_text()
    assert not [s.env for s in STACK_SETTINGS if f"`{s.env}`" not in text]


def test_previewer_settings_documented() -> None:
    previewer_settings = pytest.importorskip("previewer.settings")
    text = DOC.read_text()
    missing = [s.env for s in previewer_settings.SETTINGS if f"`{s.env}`" not in text]
    assert not missing, f"previewer settings missing from docs/configuration.md: {missing}"


def test_defaults_load() -> None:
    s = load_settings({})
    assert s.smtp_addr == ("127.0.0.1", 1025)
    assert s.http_addr == ("127.0.0.1", 8025)
    assert s.compression == 1
    assert s.max_message_size == 50 * 1024 * 1024
    assert s.max_messages == 500


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"MAILCAPTURE_COMPRESSION": "7"}, "MAILCAPTURE_COMPRESSION"),
        ({"MAILCAPTURE_SMTP_ADDR": "nope"}, "MAILCAPTURE_SMTP_ADDR"),
        ({"MAILCAPTURE_MAX_AGE": "-3d"}, "MAILCAPTURE_MAX_AGE"),
        ({"MAILCAPTURE_DISABLE_WAL": "maybe"}, "MAILCAPTURE_DISABLE_WAL"),
        ({"MAILCAPTURE_SMTP_AUTH": "file"}, "MAILCAPTURE_SMTP_AUTH_FILE"),
        ({"MAILCAPTURE_SMTP_TLS_CERT": "/x.pem"}, "MAILCAPTURE_SMTP_TLS_KEY"),
    ],
)
def test_bad_values_fail_fast_with_the_variable_named(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


def test_flags_win_over_environment() -> None:
    s = load_settings({"MAILCAPTURE_COMPRESSION": "3"}, flags={"compression": "0"})
    assert s.compression == 0
    assert s.sources["compression"].startswith("flag")


def test_api_reference_lists_every_route() -> None:
    from mailcapture.web.app import ROUTES

    api = DOC.with_name("api.md").read_text()
    assert render(api) == api, "docs/api.md is stale: run python -m mailcapture.docs"
    missing = [f"{r.method} {r.path}" for r in ROUTES if f"`{r.path}`" not in api]
    assert not missing


def test_malloc_tuning_applies_on_glibc() -> None:
    import platform

    from mailcapture.memory import tune_malloc

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert tune_malloc() is True


def test_free_memory_is_released_on_glibc() -> None:
    import platform

    from mailcapture.memory import release_free_memory

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert release_free_memory() is True
