"""The production path for `make bench`: nginx with the AMI's own site config in front of uvicorn
started with the ingest-web unit's own command, and the request it replaces, PHP-FPM + nginx
from Debian. Configs are rendered from packer/files so a change there changes what is measured;
a rendering that no longer matches them fails loudly. Plus CPU accounting for process trees."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from opsctl.paths import REPO

PACKER = REPO / "packer" / "files"
# Debian names the binary after the PHP version (php-fpm8.2 on bookworm).
PHP_FPM = next(iter(sorted(Path("/usr/sbin").glob("php-fpm*"), reverse=True)), Path("php-fpm"))
PHP_WORKERS = 32  # pm = static: enough children that MariaDB's group commit can batch fsyncs


def tools_missing() -> list[str]:
    missing = [tool for tool in ("nginx",) if shutil.which(tool) is None]
    if not PHP_FPM.exists():
        missing.append("php-fpm (Debian php-fpm + php-mysql: `make bench-packages`)")
    return missing


def _replace(text: str, old: str, new: str, source: Path) -> str:
    if old not in text:
        raise RuntimeError(f"{source} no longer contains {old!r}: update bench/frontends.py")
    return text.replace(old, new)


def unit_serve_command(port: int) -> list[str]:
    """ingest-web.service's ExecStart, with this checkout's interpreter, a free port and the
    number of CPUs for "$(nproc)"."""
    unit = PACKER / "systemd" / "ingest-web.service"
    line = next(ln for ln in unit.read_text().splitlines() if ln.startswith("ExecStart="))
    shell_words = shlex.split(line.removeprefix("ExecStart="))
    assert shell_words[:2] == ["/bin/sh", "-c"], line
    words = shlex.split(shell_words[2].replace('"$(nproc)"', str(os.cpu_count() or 1)))
    if words[0] != "exec" or not words[1].endswith("/ingest-service"):
        raise RuntimeError(f"{unit}: unexpected ExecStart {line!r}: update bench/frontends.py")
    words = [sys.executable, "-m", "service.cli", *words[2:]]
    return [str(port) if previous == "--port" else word for previous, word in _pairs(words)]


def _pairs(words: list[str]) -> list[tuple[str, str]]:
    return list(zip(["", *words[:-1]], words, strict=True))


def nginx_main(site: Path, tmp: Path) -> str:
    """packer/files/nginx/nginx.conf for a process of our own: pid, logs and temp files in tmp,
    the one site given, in the foreground."""
    source = PACKER / "nginx" / "nginx.conf"
    text = source.read_text()
    user = "user root;" if os.geteuid() == 0 else ""  # the AMI's `nginx` user does not exist here
    text = _replace(text, "user nginx;", user, source)
    text = _replace(
        text, "error_log /var/log/nginx/error.log", f"error_log {tmp}/error.log", source
    )
    text = _replace(text, "pid /run/nginx.pid;", f"pid {tmp}/nginx.pid;\ndaemon off;", source)
    text = _replace(text, "include /usr/share/nginx/modules/*.conf;", "", source)
    temp_paths = "".join(
        f"{kind}_temp_path {tmp}/{kind}_temp;\n    "
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return _replace(
        text, "include /etc/nginx/conf.d/*.conf;", f"{temp_paths}include {site};", source
    )


def ingest_site(port: int, upstream_port: int, tmp: Path) -> str:
    """packer/files/nginx/ingest.conf listening on a loopback port, proxying to our uvicorn."""
    source = PACKER / "nginx" / "ingest.conf"
    text = source.read_text()
    text = _replace(
        text, "listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;", source
    )
    text = _replace(text, "listen [::]:80 default_server;", "", source)
    text = _replace(text, "server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};", source)
    return _replace(text, "/var/log/nginx/", f"{tmp}/", source)


def php_site(port: int, fpm_socket: Path, tmp: Path) -> str:
    """Debian's default site, PHP enabled the way its comments show, for bench/php/ingest.php."""
    return f"""
server {{
    listen 127.0.0.1:{port};
    access_log {tmp}/php-access.log;
    error_log {tmp}/php-error.log warn;
    keepalive_timeout 65s;
    keepalive_requests 10000;
    root {REPO}/bench/php;
    location = /records {{
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root/ingest.php;
        fastcgi_pass unix:{fpm_socket};
    }}
}}
"""


def php_fpm_config(fpm_socket: Path, tmp: Path, dsn: str, user: str, password: str) -> str:
    run_as = "user = root\ngroup = root\n" if os.geteuid() == 0 else ""
    return f"""[global]
pid = {tmp}/php-fpm.pid
error_log = {tmp}/php-fpm.log
daemonize = no

[bench]
{run_as}listen = {fpm_socket}
listen.mode = 0666
pm = static
pm.max_children = {PHP_WORKERS}
pm.max_requests = 0
clear_env = yes
env[BENCH_PDO_DSN] = "{dsn}"
env[BENCH_DB_USER] = "{user}"
env[BENCH_DB_PASSWORD] = "{password}"
php_admin_value[opcache.enable] = 1
"""


def php_fpm_command(config: Path) -> list[str]:
    return [
        str(PHP_FPM),
        "--nodaemonize",
        "--fpm-config",
        str(config),
        *(["-R"] if os.geteuid() == 0 else []),
    ]


# ---- CPU time of process trees ------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, user + system CPU seconds) for every process we can read."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return table


def cpu_seconds(roots: list[int]) -> float:
    """CPU time used so far by these processes and all their descendants alive now."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _cpu) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, todo, total = set(), list(roots), 0.0
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo.extend(children.get(pid, []))
    return total
