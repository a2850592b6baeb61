"""docs/configuration.md documents every setting and portal flag, and nothing that is gone."""

from __future__ import annotations

import re
from dataclasses import Field, fields
from pathlib import Path
from typing import Any

import pytest

from commpref.domain.model import Portal
from commpref.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
SETTINGS = fields(Settings)
NOT_SETTINGS = {"COMMPREF_TEST_POSTGRES_URL"}  # read by the test suite, not by the server
PORTAL_FLAGS = [
    "gdpr",
    "brands",
    "default_language",
    "strict_v3_unknown_404",
    "rate_limit_tier",
    "batch_scopes_enabled",
]


def doc_rows() -> dict[str, str]:
    """Table rows of the doc keyed by their first cell (without backticks)."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            rows[line.split("|")[1].strip().strip("`")] = line
    return rows


def shown_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda f: f.name)
def test_every_setting_has_a_row_with_its_variable_default_and_help(
    setting: Field[Any],
) -> None:
    row = doc_rows().get(setting.name)
    assert row is not None, f"docs/configuration.md has no row for {setting.name}"
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1] == f"`COMMPREF_{setting.name.upper()}`"
    assert cells[2] == shown_default(setting.default)
    assert cells[3] == setting.metadata["help"]


def test_every_documented_variable_exists() -> None:
    documented = set(re.findall(r"COMMPREF_[A-Z0-9_]+", DOC.read_text(encoding="utf-8")))
    known = {f"COMMPREF_{f.name.upper()}" for f in SETTINGS} | NOT_SETTINGS
    assert documented - known == set()


@pytest.mark.parametrize("flag", PORTAL_FLAGS)
def test_every_portal_flag_is_documented(flag: str) -> None:
    assert flag in {f.name for f in fields(Portal)}
    assert flag in doc_rows()


def test_every_setting_reads_its_variable() -> None:
    env = {
        "COMMPREF_PORT": "9000",
        "COMMPREF_HAPIKEY_ENABLED": "yes",
        "COMMPREF_PUBLIC_BASE_URL": "https://prefs.example.com",
    }
    settings = Settings.from_env(env)
    assert (settings.port, settings.hapikey_enabled) == (9000, True)
    assert settings.public_base_url == "https://prefs.example.com"
    assert Settings.from_env({}) == Settings()


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings(link_signing_keys="very-secret")
    assert "very-secret" not in repr(settings)
