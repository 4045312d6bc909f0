"""No placeholder secret where a user might copy one: the settings refuse the weak keys
(bookstore/settings.py, WEAK_SECRET_KEYS), and the pages people copy from never offer one."""

import re
from pathlib import Path

import pytest

from bookstore.settings import WEAK_SECRET_KEY_PREFIXES, WEAK_SECRET_KEYS
from harness.app import PROJECT_DIRECTORY

COPIED_FROM = [
    PROJECT_DIRECTORY / "README.md",
    PROJECT_DIRECTORY / ".env.example",
    PROJECT_DIRECTORY / "deploy" / "k8s" / "secrets.env.example",
    *sorted((PROJECT_DIRECTORY / "docs").glob("*.md")),
]


def placeholders(text: str) -> list[str]:
    """Weak keys offered as values. "secret" is an English word too: only as a value."""
    words = [re.escape(key) for key in WEAK_SECRET_KEYS if key != "secret"]
    patterns = [
        rf"(?<![\w-])(?:{'|'.join(words)})(?![\w-])",
        r"""[=:]\s*['"]?secret['"]?(?![\w-])""",
        rf"""SECRET_KEY\s*[=:]\s*['"]?(?:{"|".join(map(re.escape, WEAK_SECRET_KEY_PREFIXES))})""",
    ]
    return [match.group(0) for pattern in patterns for match in re.finditer(pattern, text, re.I)]


@pytest.mark.parametrize("path", COPIED_FROM, ids=lambda path: path.name)
def test_no_page_offers_a_placeholder_secret(path: Path) -> None:
    assert placeholders(path.read_text()) == []


@pytest.mark.parametrize(
    "text",
    [
        "SECRET_KEY=change-me",
        "-e SECRET_KEY=changeme",
        "password: secret",
        "SECRET_KEY='django-insecure-abc'",
    ],
)
def test_a_placeholder_is_found(text: str) -> None:
    assert placeholders(text) != []


def test_words_about_secrets_are_not_placeholders() -> None:
    assert placeholders("SECRET_KEY=$(python3 -c 'import secrets') keeps the secret safe") == []
