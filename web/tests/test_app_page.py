"""The /app/ page itself, without a browser: an HTML shell under a strict Content-Security-
Policy, nothing inline, every form control labelled, and every asset and module it needs served.
"""

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from posixpath import dirname, normpath

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

APP_PATHS = ["/app/", "/app/books/new/", "/app/books/7/", "/app/books/7/edit/", "/app/sign-in/"]
#: A module's static `import ... from "./x.js";` (the only kind the hashed storage rewrites).
RELATIVE_IMPORT = re.compile(r"""from\s*["'](\.{1,2}/[^"']+)["']\s*;""")
FORM_CONTROLS = {"input", "select", "textarea"}


class ShellParser(HTMLParser):
    """Collects what the tests below check in the page's markup."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.script_bodies: list[str] = []
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.handler_attributes: list[str] = []
        self.ids: list[str] = []
        self.label_targets: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.references: list[str] = []  # ids named by aria-describedby / aria-labelledby
        self.asset_urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, _ in attrs:
            if name == "style":
                self.style_attributes.append(tag)
            if name.startswith("on"):
                self.handler_attributes.append(f"{tag} {name}")
        element_id = attributes.get("id")
        if element_id:
            self.ids.append(element_id)
        for name in ("aria-describedby", "aria-labelledby"):
            self.references.extend((attributes.get(name) or "").split())
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        elif tag == "style":
            self.style_elements += 1
        elif tag == "label" and attributes.get("for"):
            self.label_targets.add(attributes["for"] or "")
        elif tag in FORM_CONTROLS and attributes.get("type") != "hidden":
            self.controls.append(attributes)
        for name in ("src", "href"):
            value = attributes.get(name) or ""
            if value.startswith("/static/"):
                self.asset_urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_bodies.append(data)


class ElementsById(HTMLParser):
    """Every element with an id: its tag, attributes and text (its descendants' too)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, dict[str, object]] = {}
        self.card_author_tags: list[str] = []  # the tags of the book card's author
        self._open: list[dict[str, object] | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "book-card__author" in (attributes.get("class") or "").split():
            self.card_author_tags.append(tag)
        element: dict[str, object] | None = None
        if attributes.get("id"):
            element = {"tag": tag, "attrs": attributes, "text": ""}
            self.elements[attributes["id"] or ""] = element
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            if element is not None:
                element["text"] = f"{element['text']}{data}"

    def text(self, element_id: str) -> str:
        return " ".join(str(self.elements[element_id]["text"]).split())

    def attributes(self, element_id: str) -> dict[str, str | None]:
        attributes: dict[str, str | None] = self.elements[element_id]["attrs"]  # type: ignore[assignment]
        return attributes


@pytest.fixture
def elements(client: Client) -> ElementsById:
    parser = ElementsById()
    parser.feed(client.get("/app/").content.decode())
    return parser


@pytest.fixture
def shell(client: Client) -> ShellParser:
    response = client.get("/app/")
    assert response.status_code == 200
    parser = ShellParser()
    parser.feed(response.content.decode())
    return parser


def served(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", APP_PATHS)
def test_every_page_of_the_app_is_the_html_shell(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b'<main id="main"' in response.content


@pytest.mark.parametrize(
    "path", ["/app/books/not-a-number/", "/app/elsewhere/", "/app/books/7/edit/more/", "/app/a/b/"]
)
def test_unknown_app_addresses_are_the_apps_own_not_found_page(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = ElementsById()
    page.feed(response.content.decode())
    # The shell, whose router shows its not-found view for an address it has no route for.
    assert page.text("not-found-heading") == "Page not found"
    assert page.attributes("sign-in-link")["href"] == "/app/sign-in/"
    assert "Content-Security-Policy" in response


def test_an_app_address_without_its_slash_is_still_redirected_to_it(client: Client) -> None:
    response = client.get("/app/books/7")

    assert response.status_code == 301
    assert response["Location"] == "/app/books/7/"


def test_unknown_addresses_outside_the_app_stay_the_apis_json_404(client: Client) -> None:
    response = client.get("/application/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_not_found_page_only_answers_reads(client: Client) -> None:
    assert client.post("/app/elsewhere/").status_code == 405


def test_the_page_only_answers_reads(client: Client) -> None:
    assert client.post("/app/").status_code == 405


def test_the_page_is_served_with_a_strict_content_security_policy(client: Client) -> None:
    policy = client.get("/app/")["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


def test_scripts_are_external_modules_and_nothing_is_inline(shell: ShellParser) -> None:
    assert shell.scripts, "the page loads no script"
    for script in shell.scripts:
        assert script.get("type") == "module"
        assert (script.get("src") or "").startswith("/static/web/")
    assert shell.script_bodies == []
    assert shell.style_elements == 0
    assert shell.style_attributes == []
    assert shell.handler_attributes == []


def test_ids_are_unique_and_every_aria_reference_exists(shell: ShellParser) -> None:
    duplicates = [name for name, count in Counter(shell.ids).items() if count > 1]
    assert duplicates == []
    assert set(shell.references) - set(shell.ids) == set()


def test_every_form_control_has_a_label(shell: ShellParser) -> None:
    assert len(shell.controls) >= 10
    for control in shell.controls:
        labelled = control.get("id") in shell.label_targets or control.get("aria-label")
        assert labelled, f"unlabelled control: {control}"


def test_every_asset_and_every_module_it_imports_is_served(
    client: Client, shell: ShellParser
) -> None:
    pending = list(shell.asset_urls)
    assert {url.rsplit(".", 1)[-1] for url in pending} == {"js", "css", "svg"}
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        body = served(client, url)
        if url.endswith(".js"):
            for specifier in RELATIVE_IMPORT.findall(body.decode()):
                pending.append(normpath(f"{dirname(url)}/{specifier}"))
    assert len([url for url in seen if url.endswith(".js")]) >= 8


def test_collectstatic_gives_modules_and_their_imports_hashed_names(tmp_path: Path) -> None:
    """The production storage rewrites `import ... from "./x.js";` to the hashed file names,
    so every module is cache-busted; a module graph it cannot rewrite fails here first."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "core.storage.StaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command(
            "collectstatic",
            interactive=False,
            verbosity=0,
            ignore_patterns=["admin", "rest_framework", "drf_spectacular_sidecar"],
        )

    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    modules = {name: hashed for name, hashed in paths.items() if name.startswith("web/")}
    assert re.fullmatch(r"web/app\.[0-9a-f]{12}\.js", modules["web/app.js"])
    assert (tmp_path / f"{modules['web/app.js']}.gz").exists()
    hashed_names = set(modules.values())
    for name, hashed in modules.items():
        if not name.endswith(".js"):
            continue
        for specifier in RELATIVE_IMPORT.findall((tmp_path / hashed).read_text()):
            target = normpath(f"{dirname(hashed)}/{specifier}")
            assert target in hashed_names, f"{hashed} imports {specifier}, not a hashed name"


def test_the_search_hint_says_what_the_search_does(elements: ElementsById) -> None:
    hint = elements.text("filter-search-hint")

    for promise in (
        "Words in any order",
        "capitals and accents do not matter",
        "“dragons” finds “dragon”",
        "the start of a longer word of a title or author",
        "An ISBN in any spelling finds that book",
        "Small typos are forgiven when nothing matches exactly",
        "Best matches come first: in the title, then the author, then the summary",
    ):
        assert promise in hint
    assert "must appear" not in hint  # the substring search it no longer is


def test_the_sort_control_offers_relevance_only_while_searching(elements: ElementsById) -> None:
    """The page has no search at first: the option exists but is not offered (catalogue.js
    offers it, and selects it, when a search starts)."""
    option = elements.attributes("filter-ordering-relevance")

    assert elements.elements["filter-ordering-relevance"]["tag"] == "option"
    assert option["value"] == "relevance"
    assert elements.text("filter-ordering-relevance") == "Relevance"
    assert "hidden" in option
    assert "disabled" in option


def test_the_author_filter_is_the_forgiving_one(elements: ElementsById) -> None:
    author = elements.attributes("filter-author")

    assert author["name"] == "author_name"  # not `author`, which is exact
    assert "surname is enough" in elements.text("filter-author-hint")


def test_each_books_author_is_a_link(elements: ElementsById) -> None:
    assert elements.card_author_tags == ["a"]
    assert elements.elements["detail-author"]["tag"] == "a"
