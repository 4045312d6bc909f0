"""What the app's own code says, read from its source, for the deployment files to agree with:
the environment variables it reads, the server's settings (deploy/server.py) and the settings'
defaults."""

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SETTINGS_FILE = REPO / "bookstore" / "settings.py"
SERVER_MODULE = REPO / "deploy" / "server.py"

# django-environ's readers: env.str("X"), env.bool("X"), ..., and env("X").
_ENV_READERS = frozenset(
    {"str", "bool", "int", "float", "list", "tuple", "dict", "json", "url", "db", "db_url"}
    | {"cache", "cache_url", "path", "parse_value", "get_value"}
)
_OS_ENVIRON_READERS = frozenset({"get", "setdefault", "pop"})

# Read outside the two files, by Django itself.
READ_ELSEWHERE = frozenset({"DJANGO_SETTINGS_MODULE"})


def environment_names_read(source: str) -> set[str]:
    """The names of environment variables that ``source`` reads, in the ways ours do:
    django-environ's ``env.int("X")`` (on ``env`` or ``environ.Env()``), ``env("X")``,
    ``os.environ.get("X")``, ``os.environ["X"]`` and ``os.getenv("X")``, and through a helper
    of the same source that reads the variable named by its first parameter (``_int("X", 4)``
    in deploy/server.py)."""
    tree = ast.parse(source)
    helpers = _environment_helpers(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and _reads_environment(node.func, helpers):
            name = _string(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            name = _string(node.slice)
        else:
            continue
        if name is not None:
            names.add(name)
    return names


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _environment_helpers(tree: ast.Module) -> frozenset[str]:
    """Module-level functions that read the environment variable their first parameter names."""
    helpers = set()
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef) or not function.args.args:
            continue
        parameter = function.args.args[0].arg
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and node.args
                and _is_name(node.args[0], parameter)
                and _reads_environment(node.func)
            ):
                helpers.add(function.name)
    return frozenset(helpers)


def _reads_environment(function: ast.expr, helpers: frozenset[str] = frozenset()) -> bool:
    if isinstance(function, ast.Name):
        return function.id == "env" or function.id in helpers
    if not isinstance(function, ast.Attribute):
        return False
    owner = function.value
    if function.attr in _ENV_READERS and (_is_name(owner, "env") or _is_env_instance(owner)):
        return True
    if function.attr in _OS_ENVIRON_READERS and _is_os_environ(owner):
        return True
    return function.attr == "getenv" and _is_name(owner, "os")


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_os_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and _is_name(node.value, "os")


def _is_env_instance(node: ast.expr) -> bool:
    """``environ.Env()``, as deploy/server.py reads DEBUG."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "Env"
        and _is_name(node.func.value, "environ")
    )


@cache
def names_read_by_app() -> frozenset[str]:
    """Every environment variable the app may read."""
    found: set[str] = set()
    for path in (SETTINGS_FILE, SERVER_MODULE):
        found |= environment_names_read(path.read_text())
    return frozenset(found | READ_ELSEWHERE)


def server_setting(name: str) -> object:
    """A constant of deploy/server.py (``GRACEFUL_TIMEOUT_SECONDS = 30``), read from its source:
    importing it here would not show a default the environment overrides."""
    for node in ast.parse(SERVER_MODULE.read_text()).body:
        if isinstance(node, ast.Assign) and any(_is_name(t, name) for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"deploy/server.py sets no constant {name}")


def settings_default(name: str) -> int:
    """The default of an integer setting read with ``env.int(name, default=...)``, which may be
    a product such as ``4 * 1024 * 1024``."""
    for node in ast.walk(ast.parse(SETTINGS_FILE.read_text())):
        if (
            isinstance(node, ast.Call)
            and _reads_environment(node.func)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == name
        ):
            for keyword in node.keywords:
                if keyword.arg == "default":
                    return _integer(keyword.value)
    raise LookupError(f"bookstore/settings.py reads no {name} with a default")


def _integer(node: ast.expr) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _integer(node.left) * _integer(node.right)
    raise ValueError(f"not an integer or a product of integers: {ast.unparse(node)}")
