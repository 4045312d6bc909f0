"""The shipped nginx config (deploy/nginx) for another site: a listen address and upstreams.

deploy/nginx/nginx.conf is the same file everywhere; what differs between sites is in three
small includes under site/ (the ones shipped there are docker-compose's). write_nginx_config
copies the shared files unchanged and writes a site's own includes beside them, e.g. for the
cluster test on loopback::

    config = write_nginx_config(work_dir, listen="127.0.0.1:20080",
                                upstreams=["127.0.0.1:20001", "127.0.0.1:20002"])
    subprocess.Popen(nginx_command(config))
"""

import grp
import os
import pwd
import re
import shutil
from pathlib import Path

SHIPPED_DIRECTORY = Path(__file__).resolve().parent / "nginx"
MAIN_CONFIG = "nginx.conf"
#: The files every site shares, byte for byte.
SHARED_FILES = (MAIN_CONFIG, "proxy.conf")
#: The includes each site writes for itself.
SITE_DIRECTORY = "site"
PROCESS_INCLUDE = "process.conf"
LISTEN_INCLUDE = "listen.conf"
UPSTREAMS_INCLUDE = "upstream-servers.conf"
#: Passive health checks: an instance that fails 3 requests within 10 s is left out for 10 s.
UPSTREAM_SERVER_PARAMETERS = "max_fails=3 fail_timeout=10s"

# An address as nginx's `listen` and `server` take it: host:port, [v6]:port, a port or a
# host, with nothing that could end the directive or start another.
_ADDRESS = re.compile(r"[A-Za-z0-9._\-\[\]:]+")


def write_nginx_config(directory: Path, *, listen: str, upstreams: list[str]) -> Path:
    """Write the config for nginx to listen on ``listen`` and balance over ``upstreams``.

    ``directory`` becomes nginx's prefix as well (pid and temporary files): run
    ``nginx -p directory -c <the returned path>``. Returns the path of nginx.conf.
    """
    if not upstreams:
        raise ValueError("nginx needs at least one upstream server.")
    for address in [listen, *upstreams]:
        if not _ADDRESS.fullmatch(address):
            raise ValueError(f"Not an address nginx can listen on or connect to: {address!r}")
    site = directory / SITE_DIRECTORY
    site.mkdir(parents=True, exist_ok=True)
    for name in SHARED_FILES:
        shutil.copyfile(SHIPPED_DIRECTORY / name, directory / name)
    (site / PROCESS_INCLUDE).write_text(_process_include(directory))
    (site / LISTEN_INCLUDE).write_text(f"listen {listen};\n")
    (site / UPSTREAMS_INCLUDE).write_text(
        "".join(f"server {address} {UPSTREAM_SERVER_PARAMETERS};\n" for address in upstreams)
    )
    return directory / MAIN_CONFIG


def nginx_command(config: Path, *, nginx: str | None = None) -> list[str]:
    """The command that runs nginx (in the foreground) with a config written here."""
    # -e: early messages (before error_log is read) to stderr too, not to the build's log file.
    return [nginx or find_nginx(), "-e", "stderr", "-p", f"{config.parent}/", "-c", str(config)]


def find_nginx() -> str:
    """nginx's path: on PATH, or Debian's /usr/sbin, which is not on every user's PATH."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        raise FileNotFoundError("nginx is not installed: run scripts/ensure-nginx.sh")
    return found


def _process_include(directory: Path) -> str:
    """Who the workers run as: when nginx starts as root, the owner of ``directory``.

    Their temporary files are under it (a large request body, a large response) and only its
    owner may be able to reach it (a test's 0700 temporary folder); a user of the build's
    choosing (nobody) could not. Not root: the workers run as whoever started nginx.
    """
    if os.geteuid() != 0:
        return "# Not started as root: the workers run as the user who started nginx.\n"
    owner = directory.stat()
    user = pwd.getpwuid(owner.st_uid).pw_name
    group = grp.getgrgid(owner.st_gid).gr_name
    return f"user {user} {group};\n"
