#!/usr/bin/env python3
"""Measure what one replica needs: nginx with deploy/nginx.conf serving the built site under load, the numbers
behind the resource requests and limits in deploy/k8s/deployment.yaml.

    python deploy/measure.py [--site _site] [--seconds 20] [--connections 32 1000]

nginx (Debian's, with the config adapted only for port, root and temp paths: testsupport.servers.NginxServer)
serves the site; the load cycles through the files of a first visit (the service worker's precache list, plus
health.json and the secondary pages) with ``Accept-Encoding: br, gzip`` on keep-alive connections, with ``wrk``
when it is installed (apt-get install wrk), else with Python threads. Every 0.5 s it reads the resident memory of
the master and worker processes from /proc (VmRSS, and RssAnon: their private memory) and their CPU time. Prints
one JSON object: idle and peak memory in MB (10^6 bytes), CPU seconds per second and per request, requests and
bytes per second (the load generator shares the machine: on a small one it, not nginx, sets the request rate).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testsupport.servers import NginxServer, find_nginx  # noqa: E402

MB = 10**6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def first_visit_paths(site: Path) -> list[str]:
    text = (site / "sw.js").read_text(encoding="utf-8")
    m = re.search(r"const PRECACHE = (\[.*?\]);", text, re.S)
    if not m:
        raise SystemExit(
            f"{site}/sw.js has no PRECACHE list: build the site first (python build.py --out {site})"
        )
    paths = ["/" + ("" if p == "./" else p) for p in json.loads(m.group(1))]
    return [*paths, "/health.json", "/console/", "/models/"]


def memory(pids: list[int]) -> tuple[int, int]:
    """(VmRSS, RssAnon) summed over ``pids``, bytes."""
    rss = anon = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        rss += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
        anon += int(re.search(r"RssAnon:\s+(\d+) kB", status).group(1)) * 1024
    return rss, anon


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5): fields 14 and 15)
    return total / CLOCK_TICKS


def load_with_wrk(url: str, paths: list[str], seconds: int, connections: int) -> dict[str, float]:
    lua = (
        "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\ncounter = 0\n"
        "request = function()\n  counter = counter + 1\n"
        '  return wrk.format("GET", paths[(counter % #paths) + 1], {["Accept-Encoding"] = "br, gzip"})\nend\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %d %f\\n", summary.requests, summary.bytes, summary.duration))\nend\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", fh.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    n, nbytes, micros = re.search(r"RESULT (\d+) (\d+) ([\d.]+)", out).groups()
    return {"requests": int(n), "bytes": int(nbytes), "seconds": float(micros) / 1e6}


def load_with_threads(url: str, paths: list[str], seconds: int, connections: int) -> dict[str, float]:
    host, port = url.split("//")[1].rstrip("/").split(":")
    stop = time.monotonic() + seconds
    counts = {"requests": 0, "bytes": 0}
    lock = threading.Lock()

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        i = offset
        while time.monotonic() < stop:
            conn.request("GET", paths[i % len(paths)], headers={"Accept-Encoding": "br, gzip"})
            body = conn.getresponse().read()
            with lock:
                counts["requests"] += 1
                counts["bytes"] += len(body)
            i += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**counts, "seconds": time.monotonic() - start}


def measure(server: NginxServer, paths: list[str], seconds: int, connections: int) -> dict[str, Any]:
    pids = server.pids()
    peak_rss = peak_anon = 0
    result: dict[str, float] = {}
    load = load_with_wrk if shutil.which("wrk") else load_with_threads
    runner = threading.Thread(target=lambda: result.update(load(server.url, paths, seconds, connections)))
    cpu0 = cpu_seconds(pids)
    runner.start()
    while runner.is_alive():
        rss, anon = memory(pids)
        peak_rss, peak_anon = max(peak_rss, rss), max(peak_anon, anon)
        time.sleep(0.5)
    runner.join()
    cpu = cpu_seconds(pids) - cpu0
    return {
        "connections": connections,
        "load": load.__name__.removeprefix("load_with_"),
        "peak_rss_mb": round(peak_rss / MB, 1),
        "peak_private_mb": round(peak_anon / MB, 1),
        "cpu_seconds_per_second": round(cpu / result["seconds"], 2),
        "cpu_us_per_request": round(cpu / max(result["requests"], 1) * 1e6, 1),
        "requests_per_second": round(result["requests"] / result["seconds"]),
        "mb_per_second": round(result["bytes"] / result["seconds"] / MB),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", default=str(ROOT / "_site"), help="the built site (default _site)")
    ap.add_argument("--seconds", type=int, default=20, help="length of each load run")
    ap.add_argument("--connections", type=int, nargs="+", default=[32, 1000], help="keep-alive connections")
    args = ap.parse_args(argv)
    site = Path(args.site)
    paths = first_visit_paths(site)
    with NginxServer(site) as server:
        time.sleep(1.0)
        pids = server.pids()
        rss, anon = memory(pids)
        report: dict[str, Any] = {
            "nginx": subprocess.run(
                [find_nginx() or "nginx", "-v"], capture_output=True, text=True
            ).stderr.strip(),
            "processes": len(pids),
            "paths": len(paths),
            "idle_rss_mb": round(rss / MB, 1),
            "idle_private_mb": round(anon / MB, 1),
            "runs": [measure(server, paths, args.seconds, c) for c in args.connections],
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
