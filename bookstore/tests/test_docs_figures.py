"""The docs' rule for measured figures (bookstore/docs_figures.py): the README and docs/*.md
keep it, and the checker finds a figure without a source when there is one."""

from pathlib import Path

import pytest

from bookstore import docs_figures
from bookstore.docs_figures import check_page, figures


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository with one results file and one script, for the samples below."""
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "run-1.json").write_text(
        '{"import": {"rows_per_second": 7300.4}, "detail": {"rps": 6180.2, "ratio": 3.2391,'
        ' "p99_seconds": 0.0143, "errors": [0, 0.005]}}'
    )
    (tmp_path / "bench" / "load.py").write_text("")
    return tmp_path


def problems(text: str, root: Path) -> list[str]:
    return [str(problem) for problem in check_page(text, "page.md", root)]


def test_the_readme_and_the_docs_name_a_source_for_every_measured_figure() -> None:
    found = docs_figures.check()
    assert found == [], "\n".join(str(problem) for problem in found)


def test_the_check_reads_the_readme_and_every_page_of_docs() -> None:
    pages = {page.name for page in docs_figures.checked_pages()}
    assert {"README.md", "import.md", "performance.md", "reliability.md"} <= pages


def test_a_figure_without_a_source_is_reported_with_its_line(repository: Path) -> None:
    page = "# Speed\n\n## Import\n\nThe importer reads\n7,300 rows/s on PostgreSQL.\n"
    assert problems(page, repository) == [
        "page.md:6: '7,300 rows/s' has no source: name a bench/results/*.json file or add "
        "<!-- figures: COMMAND (an existing script or test) --> in its section"
    ]


def test_a_results_file_in_the_section_is_a_source(repository: Path) -> None:
    page = "# Speed\n\n## Import\n\n7,300 rows/s (`bench/results/run-1.json`).\n"
    assert problems(page, repository) == []


def test_a_results_file_may_be_named_without_its_folder(repository: Path) -> None:
    assert problems("# Speed\n\n## Import\n\n7,300 rows/s (run-1.json).\n", repository) == []


def test_a_results_file_that_does_not_exist_is_reported_and_is_no_source(
    repository: Path,
) -> None:
    page = "# Speed\n\n## Import\n\n7,300 rows/s (`bench/results/run-2.json`).\n"
    assert problems(page, repository) == [
        "page.md:5: bench/results/run-2.json does not exist",
        "page.md:5: '7,300 rows/s' has no source: name a bench/results/*.json file or add "
        "<!-- figures: COMMAND (an existing script or test) --> in its section",
    ]


def test_a_results_file_that_holds_none_of_the_sections_figures_is_reported(
    repository: Path,
) -> None:
    page = "# Speed\n\n## Import (run-1.json)\n\n5,000 rows/s, p99 20.1 ms\n"
    assert problems(page, repository) == [
        "page.md:5: none of this section's figures is in run-1.json: name the file they come from"
    ]


@pytest.mark.parametrize(
    ("figure", "held"),
    [
        ("7,300 rows/s", True),  # rounded as written
        ("7,300.4 rows/s", True),
        ("7,301 rows/s", False),
        ("14.3 ms", True),  # seconds in the file
        ("3.24\u00d7", True),
        ("0.5 %", True),  # a fraction in the file
        ("6,181 req/s", False),
    ],
)
def test_a_figure_is_held_by_a_results_file_as_written(
    repository: Path, figure: str, held: bool
) -> None:
    numbers = docs_figures.numbers_in(repository / "bench" / "results" / "run-1.json")
    assert docs_figures.held_by(figure, numbers) is held


def test_a_marker_is_a_source_only_when_it_names_an_existing_file(repository: Path) -> None:
    good = "# Load\n\n## Runs\n<!-- figures: python bench/load.py --rows 10 -->\np99 14.3 ms\n"
    bad = "# Load\n\n## Runs\n<!-- figures: python bench/gone.py --rows 10 -->\np99 14.3 ms\n"
    assert problems(good, repository) == []
    assert len(problems(bad, repository)) == 1


def test_a_source_covers_its_subsections_but_not_its_siblings(repository: Path) -> None:
    page = "# Speed\n\n## Runs (run-1.json)\n\n### Reads\n\n6,180 req/s\n\n## Writes\n\n345 req/s\n"
    assert [problem.split(":")[1] for problem in problems(page, repository)] == ["11"]


def test_a_source_under_the_page_title_covers_only_the_title_section(repository: Path) -> None:
    page = "# Speed (run-1.json)\n\n3.24\u00d7 faster\n\n## Writes\n\n345 req/s\n"
    assert [problem.split(":")[1] for problem in problems(page, repository)] == ["7"]


def test_a_heading_in_a_code_block_does_not_end_a_section(repository: Path) -> None:
    page = "# Speed\n\n## Runs (run-1.json)\n\n```sh\n# a comment\n```\n\n6,180 req/s\n"
    assert problems(page, repository) == []


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("6,180 / 4.6 / 14.3 ms", ["14.3 ms"]),
        ("3.24\u00d7 the reference", ["3.24\u00d7"]),
        ("load 0.3\u20130.5 % after a minute", ["0.3\u20130.5 %"]),
        ("table 412 MB; GIN 123 MB", ["412 MB", "123 MB"]),
        ("59,172 rows/s and 6,098 rps", ["59,172 rows/s", "6,098 rps"]),
        ("1,350/s on two cores; 10/min a client", ["1,350/s"]),  # a rate limit is a setting
        ("target: p99 < 50 ms, \u2265 10\u00d7 the reference", []),  # targets, not measurements
        ("`READ_CACHE_TTL` 300 s, a body over 4 MiB", []),  # settings
        ("`wrk -d10s -c32` and `SLOW_QUERY_MS=100 ms`", []),  # inline code
        ("2 \u00d7 4 threads, 304s, the p99", []),  # arithmetic, plural, no number
        ("<!-- 7 ms in a comment -->", []),
    ],
)
def test_what_counts_as_a_measured_figure(line: str, found: list[str]) -> None:
    assert figures(line) == found
