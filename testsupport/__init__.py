"""Helpers shared by the end-to-end tests (e2e/), the benchmarks (bench/run.py) and deploy/measure.py: Chromium and
request recording (browser.py), local servers: build.py's own and nginx with deploy/nginx.conf (servers.py).

A top-level package rather than a module inside e2e/ or bench/: each user puts the repository root on sys.path and
imports ``testsupport.…``, so no tool has to import another tool's folder (e2e/ is a pytest rootdir with its own
conftest.py, bench/ is a folder of scripts)."""
