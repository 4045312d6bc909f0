"""The search scenarios' paths, the deep-page walk over a server's next links, what a sample's
answers are said to be, and the accounting of the worst case's 503s."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import search_scenarios as search
from bench.data import SearchProbes
from bench.wrk import LoadResult
from harness.ports import free_port


def probes() -> SearchProbes:
    return SearchProbes(
        common=["shake focus"],
        rare=["pogolam"],
        letter=["x engine"],
        typo=["goverment"],
        accent=["bronte", "emile schrodinger"],
        isbn=["978-1-9872-7824-8"],
        deep_words=["shake"],
        broadest=["shake", "re", "a e i o"],
    )


def test_every_scenario_but_the_deep_pages_gets_its_paths_from_the_catalogue() -> None:
    paths = search.scenario_paths(probes())

    assert set(paths) == set(search.SCENARIOS) - {search.DEEP}
    assert paths["search_accent"] == ["/books/?search=bronte", "/books/?search=emile+schrodinger"]
    assert paths["search_isbn"] == ["/books/?search=978-1-9872-7824-8"]
    assert paths[search.WORST][-1] == "/books/?search=a+e+i+o"
    for name, values in paths.items():
        for path in values:
            assert search.search_query(path) in getattr(probes(), _kind(name)), path


def _kind(scenario: str) -> str:
    kind = scenario.removeprefix("search_")
    return "broadest" if kind == "worst" else kind


def test_every_scenario_has_a_title_and_a_target() -> None:
    assert set(search.TARGETS) == set(search.ALL) == set(search.SCENARIOS) | set(search.CACHED)
    for name, target in search.TARGETS.items():
        if name != search.WORST:
            assert target == "p99 < 50 ms"
    assert "statement timeout" in search.TARGETS[search.WORST]


def test_the_cached_scenarios_repeat_every_cache_off_one_but_the_broadest() -> None:
    # A 503 is not cached: the broadest searches would measure the statement timeout again.
    repeated = {search.base_scenario(name) for name in search.CACHED}

    assert repeated == set(search.SCENARIOS) - {search.WORST}
    for name in search.CACHED:
        assert name != search.base_scenario(name)
        assert "(cached)" in search.CACHED[name]
    assert search.base_scenario("search_isbn") == "search_isbn"


def test_relative_keeps_the_path_and_query_of_a_link() -> None:
    assert search.relative("http://127.0.0.1:8123/books/?cursor=abc&search=x") == (
        "/books/?cursor=abc&search=x"
    )
    assert search.relative("http://127.0.0.1:8123/books/") == "/books/"


def test_the_client_talks_to_the_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        search.Client("http://example.com:80")


class Pages(ThreadingHTTPServer):
    """A list of ``total`` pages of a search, each linking the next one with a cursor."""

    daemon_threads = True

    def __init__(self, port: int, total: int) -> None:
        super().__init__(("127.0.0.1", port), PagesHandler)
        self.total = total
        self.seen: list[str] = []


class PagesHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Pages

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        query = parse_qs(urlsplit(self.path).query)
        page = int(query.get("cursor", ["1"])[0])
        word = query["search"][0]
        following = (
            f"http://127.0.0.1:{self.server.server_port}/books/?cursor={page + 1}&search={word}"
            if page < self.server.total
            else None
        )
        body = json.dumps(
            {"next": following, "previous": None, "results": [{"id": page}], "search": {}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[Pages]:
    server = Pages(free_port(set()), total=9)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_walk_next_follows_the_servers_links_until_the_last_page(pages: Pages) -> None:
    client = search.Client(f"http://127.0.0.1:{pages.server_port}")
    try:
        assert search.walk_next(client, "/books/?search=shake", 3) == [
            "/books/?cursor=2&search=shake",
            "/books/?cursor=3&search=shake",
            "/books/?cursor=4&search=shake",
        ]
        assert len(search.walk_next(client, "/books/?search=shake", 50)) == 8  # pages 2-9
    finally:
        client.close()


def test_deep_paths_keep_the_back_of_each_walk(pages: Pages) -> None:
    url = f"http://127.0.0.1:{pages.server_port}"

    paths, walked = search.deep_paths(url, ["shake", "focus"], pages=6, keep_from=4)
    assert paths == [
        "/books/?cursor=6&search=shake",
        "/books/?cursor=7&search=shake",
        "/books/?cursor=6&search=focus",
        "/books/?cursor=7&search=focus",
    ]
    assert walked["pages_followed"] == [6, 6]
    # A list shorter than the walk: the back half of what there is.
    paths, walked = search.deep_paths(url, ["shake"], pages=50, keep_from=25)
    assert walked["pages_followed"] == [8]
    assert paths == [f"/books/?cursor={page}&search=shake" for page in range(6, 10)]


def page(status: int, results: list[dict[str, Any]], similar: bool = False) -> search.Page:
    return search.Page(
        status,
        {"next": None, "previous": None, "results": results, "search": {"similar": similar}},
    )


def test_describe_answers_counts_found_similar_isbn_first_and_accented() -> None:
    book = {"isbn": "9781987278248", "title": "Focus", "author": "Emily Brontë"}
    other = {"isbn": "9780000000002", "title": "Shake", "author": "Ann Lee"}

    isbn = search.describe_answers(
        "search_isbn",
        ["/books/?search=978-1-9872-7824-8", "/books/?search=1-358-30269-3"],
        [page(200, [book, other]), page(200, [other])],
    )
    assert isbn["checked"] == 2
    assert isbn["found_some"] == 2
    assert isbn["isbn_book_first"] == 1
    cached = search.describe_answers(
        "search_isbn_cached", ["/books/?search=978-1-9872-7824-8"], [page(200, [book])]
    )
    assert cached["isbn_book_first"] == 1  # a cached scenario is checked as its base
    accent = search.describe_answers(
        "search_accent",
        ["/books/?search=bronte", "/books/?search=lee"],
        [page(200, [other, book]), page(503, [])],
    )
    assert accent["found_accented"] == 1
    assert accent["statuses"] == {"200": 1, "503": 1}
    typo = search.describe_answers(
        "search_typo", ["/books/?search=goverment"], [page(200, [other], similar=True)]
    )
    assert typo["similar"] == 1
    assert search.describe_check(typo) == "1/1 found; 1 similar"
    assert search.describe_check(accent) == "1/2 found; 1 found accented; statuses 503: 1"


def measured(statuses: dict[str, int], p99: float = 30.0) -> dict[str, Any]:
    requests = sum(statuses.values())
    non2xx = sum(count for status, count in statuses.items() if not status.startswith("2"))
    return LoadResult(
        requests=requests,
        seconds=10.0,
        requests_per_second=requests / 10,
        p50_ms=5.0,
        p90_ms=10.0,
        p99_ms=p99,
        socket_errors=0,
        non2xx=non2xx,
        statuses=statuses,
    ).as_dict()


def test_the_worst_cases_503s_are_counted_apart_from_errors() -> None:
    entry = search.account_expected_statuses(
        search.WORST, measured({"200": 700, "503": 250, "500": 50})
    )

    assert entry["errors"] == 50
    assert entry["non2xx"] == 300
    assert entry["expected"] == {"503": {"count": 250, "share": 0.25}}
    # Any other scenario: a 503 is an error.
    other = search.account_expected_statuses("search_common", measured({"200": 9, "503": 1}))
    assert other["errors"] == 1
    assert "expected" not in other


def test_targets_are_met_by_a_p99_under_50_ms_without_errors() -> None:
    assert search.meets_target("search_rare", measured({"200": 10}, p99=49.9)) is True
    assert search.meets_target("search_rare", measured({"200": 10}, p99=50.0)) is False
    assert search.meets_target("search_rare", measured({"200": 9, "500": 1}, p99=5)) is False
    assert search.meets_target(search.WORST, measured({"200": 10}, p99=5)) is None
    assert search.meets_target("search_rare", {"skipped": "no paths"}) is None


def test_target_rows_show_the_verdict_and_the_503_share() -> None:
    worst = search.account_expected_statuses(search.WORST, measured({"200": 3, "503": 1}, 900))
    measurements = {
        "search_common": {"ours": measured({"200": 10}, p99=12.5)},
        "search_typo": {"ours": measured({"200": 10}, p99=80.0)},
        "search_typo_cached": {"ours": measured({"200": 10}, p99=20.0)},
        "search_rare": {"ours": {"skipped": "no paths"}},
        search.WORST: {"ours": worst},
    }
    checks = {"search_common": {"checked": 2, "statuses": {"200": 2}, "found_some": 2}}

    rows = {row[0]: row for row in search.target_rows(measurements, checks)}
    common = rows[search.SCENARIOS["search_common"]]
    assert common[3:7] == ("12.50", "0", "p99 < 50 ms", "yes")
    assert common[8] == "2/2 found"
    assert rows[search.SCENARIOS["search_typo"]][6] == "NO"
    assert rows[search.CACHED["search_typo_cached"]][6] == "yes"
    assert list(rows).index(search.CACHED["search_typo_cached"]) > list(rows).index(
        search.SCENARIOS[search.WORST]
    )  # cache off first, then cached
    assert rows[search.SCENARIOS["search_rare"]][1] == "n/a"
    assert rows[search.SCENARIOS[search.WORST]][3:8] == (
        "900.00",
        "0",
        search.TARGETS[search.WORST],
        "",
        "25.0%",
    )
    assert search.SCENARIOS["search_letter"] not in rows
