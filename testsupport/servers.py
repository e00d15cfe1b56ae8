"""Local servers for a built site: build.py's own server in a thread, and Debian's nginx with deploy/nginx.conf
(unprivileged: a free port, pid, logs and temp files under a temporary prefix); plus the helpers they need."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
SUBPATH_INCLUDE_DIR = "/etc/nginx/vram-insight.d"  # deploy/nginx.conf includes *.conf from here


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> None:
    """Until ``url`` answers 200; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server at {url} did not answer")
        time.sleep(0.1)


def response_headers(url: str, encoding: str | None = None) -> dict[str, str]:
    """GET ``url`` (with ``Accept-Encoding: encoding`` when given); the response headers, names in lower case."""
    r = Request(url, headers={"Accept-Encoding": encoding} if encoding else {})
    with urlopen(r, timeout=10) as resp:
        resp.read()
        return {k.lower(): v for k, v in resp.headers.items()}


def load_build() -> ModuleType:
    """build.py as a fresh module (``vram_build``): its server, headers and build steps."""
    spec = importlib.util.spec_from_file_location("vram_build", ROOT / "build.py")
    if spec is None or spec.loader is None:
        raise ImportError("build.py is missing")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["vram_build"] = mod
    spec.loader.exec_module(mod)
    return mod


def site_is_fresh(out: Path) -> bool:
    """A built folder newer than every input of the build (site/, engine/, data/, build.py, the npm lock)."""
    index = out / "index.html"
    if not index.is_file() or not (out / "health.json").is_file():
        return False
    built = index.stat().st_mtime
    inputs = [ROOT / "build.py", ROOT / "package-lock.json", ROOT / "pyproject.toml"]
    for folder in ("site", "engine", "data"):
        inputs += [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return all(p.stat().st_mtime <= built for p in inputs if p.exists())


class SiteServer:
    """build.py's server (its headers, CSP, encodings, caching) for ``site`` on a free port, in a daemon thread.

    ``build``: a loaded build module (default: a fresh one), e.g. with a patched ``security_headers``;
    ``wrap_handler``: returns a subclass of the request handler (to count bytes, say);
    ``quiet_errors``: drop handler exceptions (clients that close connections early)."""

    def __init__(
        self,
        site: Path,
        *,
        build: ModuleType | None = None,
        wrap_handler: Callable[[type], type] | None = None,
        quiet_errors: bool = False,
    ) -> None:
        self.build = build or load_build()
        self.httpd = self.build.make_server(site, 0)
        if quiet_errors:
            self.httpd.handle_error = lambda request, client_address: None
        if wrap_handler is not None:
            self.httpd.RequestHandlerClass = wrap_handler(self.httpd.RequestHandlerClass)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SiteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- nginx -------------------------------------------------------------------------------------------------------
class NginxError(RuntimeError):
    """nginx rejected the config or did not start; the message has its own words."""


def find_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def adapt_nginx_conf(text: str, root: Path, port: int, prefix: Path, include_dir: Path | None = None) -> str:
    """deploy/nginx.conf with only what must differ on this machine: the port (127.0.0.1), the site folder, the
    pid, log and temp paths (under ``prefix``, so that several can run at once) and the sub-path include folder.
    Every other line, and so every line number, stays as it is."""
    if not re.search(r"^\s*http\s*\{", text, flags=re.M):
        raise ValueError("not a complete nginx.conf (no http {} block)")
    text = re.sub(r"^(\s*)user\s+[^;]+;", r"\1", text, flags=re.M)
    text = re.sub(r"^(\s*)pid\s+[^;]+;", rf"\1pid {prefix}/nginx.pid;", text, flags=re.M)
    text = re.sub(
        r"^(\s*)error_log\s+[^;]+;", rf"\1error_log {prefix}/logs/error.log warn;", text, flags=re.M
    )
    text = re.sub(r"^(\s*)access_log\s+[^;]+;", r"\1access_log off;", text, flags=re.M)
    text = re.sub(r"^(\s*)(\w+)_temp_path\s+[^;]+;", rf"\1\2_temp_path {prefix}/tmp/\2;", text, flags=re.M)
    text = re.sub(
        r"listen\s+(\[::\]:)?\d+[^;]*;", lambda m: "" if m.group(1) else f"listen 127.0.0.1:{port};", text
    )
    text = re.sub(r"^(\s*)root\s+[^;]+;", rf"\1root {root};", text, flags=re.M)
    if include_dir is not None:
        text = text.replace(f"include {SUBPATH_INCLUDE_DIR}/", f"include {include_dir}/")
    return text


class NginxServer:
    """Debian's nginx serving ``site`` with deploy/nginx.conf (adapt_nginx_conf), in the foreground of a child
    process; ``include_files`` ({name: text}) land in the sub-path include folder. Runs ``nginx -t`` first; raises
    NginxError (with nginx's message) when the config is rejected or nginx does not answer."""

    def __init__(
        self,
        site: Path,
        *,
        conf: Path = NGINX_CONF,
        include_files: dict[str, str] | None = None,
        nginx: str | None = None,
    ) -> None:
        binary = nginx or find_nginx()
        if binary is None:
            raise NginxError("nginx is not installed (apt-get install -y nginx)")
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="vram-nginx-"))
        for d in ("logs", "tmp", "conf", "include"):
            (self.prefix / d).mkdir()
        for name, text in (include_files or {}).items():
            (self.prefix / "include" / name).write_text(text)
        self.conf_text = adapt_nginx_conf(
            conf.read_text(), site, self.port, self.prefix, self.prefix / "include"
        )
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Started as root (CI containers), nginx's workers would run as "nobody" and could not enter a site built
            # under pytest's private temp folder (mode 0700). Same line, so every line number stays as it is.
            self.conf_text = "user root; " + self.conf_text
        conf_path = self.prefix / "conf" / "nginx.conf"
        conf_path.write_text(self.conf_text)
        base = [
            binary,
            "-e",
            str(self.prefix / "logs" / "error.log"),
            "-p",
            str(self.prefix),
            "-c",
            str(conf_path),
        ]
        test = subprocess.run([*base, "-t"], capture_output=True, text=True)
        if test.returncode != 0:
            shutil.rmtree(self.prefix, ignore_errors=True)
            raise NginxError(f"nginx -t failed:\n{test.stderr}")
        self.proc = subprocess.Popen(
            [*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        try:
            wait_http(self.url)
        except RuntimeError:
            self.proc.kill()
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            log = (self.prefix / "logs" / "error.log").read_text(errors="replace")
            shutil.rmtree(self.prefix, ignore_errors=True)
            raise NginxError(f"nginx did not start: {err[-2000:]}{log[-2000:]}") from None

    def pids(self) -> list[int]:
        """The master and its workers (children of the master)."""
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return (
            [self.proc.pid, *(int(p) for p in kids.read_text().split())] if kids.exists() else [self.proc.pid]
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> NginxServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
