"""The docs' rule for measured figures: each one names where it came from.

A measured figure is a number with a unit of measurement: `7,300 rows/s`, `6,180 req/s`,
`14.3 ms`, `0.5 %`, `412 MB`, or a ratio (`3.24` and the multiplication sign, written without
a space). Settings are not figures, and are written in units of their own: durations in plain
seconds (`READ_CACHE_TTL`, 300 s), sizes in MiB (4 MiB).

In README.md and docs/*.md, every section (the text under a heading, down to the next heading
of any level) that states a figure must name its source, in the section itself or in a
section it is part of (not the page's title):

- a results file that exists: `bench/results/<name>.json` (or just `<name>.json`), or
- a marker `<!-- figures: ... -->` naming an existing file of the repository, the script or
  test that measured them with what was run, e.g.
  `<!-- figures: make faults (faults/test_redis_outage.py), five runs, 2026-11-25 -->`; an
  estimate says so in its text and names its basis the same way.

A section that names results files (and no marker) must state at least one figure one of them
holds, as written (rounded to its decimals; seconds may be written as ms, fractions as %): a
check that the file named is the one the figures come from.

Not figures: numbers in `inline code`, in HTML comments, and bounds and targets written with
a comparison sign (`p99 < 50 ms`). A results file named anywhere must exist.

    .venv/bin/python -m bookstore.docs_figures      lists what breaks the rule (exit 1)

bookstore/tests/test_docs_figures.py runs the check in `make test`.
"""

import functools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIRECTORY = Path(__file__).resolve().parent.parent

#: Units of what is measured; a ratio's sign is matched apart (TIMES).
UNITS = r"rows/s|req/s|requests/s|/s|rps|ms|µs|%|MB|GB|kB|KB"
NUMBER = r"\d[\d,]*(?:\.\d+)?"
TIMES = "\u00d7"  # the multiplication sign
RANGE_DASHES = "\u2013-"  # an en dash or a hyphen between the two ends of a range
#: A number (or a range of two) and its unit; not inside a word or an identifier. A ratio's
#: sign follows its number directly (3.24 then TIMES); with a space it is arithmetic.
FIGURE = re.compile(
    rf"(?<![\w.#/-])(?P<value>{NUMBER}(?:\s?[{RANGE_DASHES}]\s?{NUMBER})?)"
    rf"(?:\s?(?:{UNITS})(?![\w/])|{TIMES})"
)
#: A bound or target, not a measurement: `p99 < 50 ms`, at least (the sign) 10 times.
COMPARISON = re.compile(r"[<>\u2264\u2265]=?\s*~?$")
RESULTS_FILE = re.compile(r"bench/results/[\w.-]+\.json")
#: A results file may be named without its folder: `20261206T033822Z.json`.
RESULTS_NAME = re.compile(r"(?<![\w/.-])[\w.-]+\.json")
MARKER = re.compile(r"<!--\s*figures:(?P<text>.*?)-->", re.DOTALL)
REPOSITORY_PATH = re.compile(r"(?<![\w/.-])(?:[\w.-]+/)+[\w.-]+\.\w+|(?<![\w/.-])[\w-]+\.\w+")
HEADING = re.compile(r"^(#{1,6})\s")
INLINE_CODE = re.compile(r"`[^`\n]*`")
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Section:
    level: int
    start: int  # its heading's line number (1-based); 0 before the first heading
    lines: list[tuple[int, str]]

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def split_sections(text: str) -> list[Section]:
    """The page's sections, each with its heading's level (0 before the first heading); lines
    in fenced code blocks are never headings."""
    sections = [Section(0, 0, [])]
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading:
            sections.append(Section(len(heading.group(1)), number, []))
        sections[-1].lines.append((number, line))
    return sections


def results_files(text: str, root: Path) -> list[Path]:
    """The existing results files `text` names, with or without their folder."""
    named = [root / path for path in RESULTS_FILE.findall(text)]
    named += [root / "bench" / "results" / name for name in RESULTS_NAME.findall(text)]
    return sorted({path for path in named if path.is_file()})


def has_marker(text: str, root: Path) -> bool:
    """Whether `text` has a figures marker that names an existing file of the repository."""
    return any(
        (root / path).is_file()
        for marker in MARKER.finditer(text)
        for path in REPOSITORY_PATH.findall(marker["text"])
    )


def names_a_source(text: str, root: Path) -> bool:
    return bool(results_files(text, root)) or has_marker(text, root)


@functools.cache
def numbers_in(path: Path) -> tuple[float, ...]:
    """Every number in a results file."""

    def walk(value: Any) -> Iterator[float]:
        if isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield float(value)

    return tuple(walk(json.loads(path.read_text())))


def held_by(figure: str, numbers: Iterable[float]) -> bool:
    """Whether a figure's (first) number is one of `numbers` as written: rounded to its
    decimals, in the file's unit or a thousand times it or less (s and ms, ms and µs), or as
    a percentage of a fraction."""
    written = re.match(NUMBER, figure)
    if written is None:
        return False
    text = written.group(0).replace(",", "")
    decimals = len(text.partition(".")[2])
    value = float(text)
    return any(
        round(number * scale, decimals) == value
        for number in numbers
        for scale in (1, 1000, 0.001, 100)
    )


def figures(line: str) -> list[str]:
    """The measured figures on one line of prose (code spans and comments left out)."""
    prose = INLINE_CODE.sub(" ", COMMENT.sub(" ", line))
    found = []
    for match in FIGURE.finditer(prose):
        if COMPARISON.search(prose[: match.start()].rstrip()):
            continue
        found.append(match.group(0))
    return found


def check_page(text: str, path: str, root: Path = PROJECT_DIRECTORY) -> list[Problem]:
    """What breaks the rule on one page: unsourced figures (the first of each section) and
    results files that do not exist."""
    problems = [
        Problem(path, text.count("\n", 0, match.start()) + 1, f"{match.group(0)} does not exist")
        for match in RESULTS_FILE.finditer(text)
        if not (root / match.group(0)).is_file()
    ]
    sections = split_sections(COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text))
    raw_sections = split_sections(text)  # the same sections, markers kept
    ancestors: list[tuple[int, bool]] = []  # (level, sourced) of the enclosing sections
    for section, raw in zip(sections, raw_sections, strict=True):
        while ancestors and ancestors[-1][0] >= section.level:
            ancestors.pop()
        sourced = names_a_source(raw.text(), root)
        problems.extend(misattributed(section, raw.text(), path, root))
        # A page's title section covers only itself: one source at the top of a page must not
        # vouch for every figure below it.
        covered = sourced or any(flag for level, flag in ancestors if level > 1)
        ancestors.append((section.level, sourced))
        if covered:
            continue
        for number, line in section.lines:
            found = figures(line)
            if found:
                problems.append(
                    Problem(
                        path,
                        number,
                        f"{found[0]!r} has no source: name a bench/results/*.json file or add "
                        "<!-- figures: COMMAND (an existing script or test) --> in its section",
                    )
                )
                break
    return sorted(problems, key=lambda problem: problem.line)


def misattributed(section: Section, raw_text: str, path: str, root: Path) -> list[Problem]:
    """A section sourced by results files alone whose figures none of them holds: it names
    the wrong file, or its figures were typed from elsewhere."""
    files = results_files(raw_text, root)
    if not files or has_marker(raw_text, root):
        return []
    found = [(number, figure) for number, line in section.lines for figure in figures(line)]
    numbers = [number for file in files for number in numbers_in(file)]
    if not found or any(held_by(figure, numbers) for _, figure in found):
        return []
    names = ", ".join(file.name for file in files)
    return [
        Problem(
            path,
            found[0][0],
            f"none of this section's figures is in {names}: name the file they come from",
        )
    ]


def checked_pages(root: Path = PROJECT_DIRECTORY) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def check(root: Path = PROJECT_DIRECTORY) -> list[Problem]:
    problems = []
    for page in checked_pages(root):
        problems.extend(check_page(page.read_text(), str(page.relative_to(root)), root))
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
