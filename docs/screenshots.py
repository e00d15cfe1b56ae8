"""Refresh the screenshots in docs/screenshots/: the calculator on a phone (360 x 780) and a desktop (1280 x 800),
in English and Simplified Chinese, plus the phone while an input is edited (the compact total at the top).

    python docs/screenshots.py                 # builds the site into _site/ when it is missing or stale
    python docs/screenshots.py --site DIR      # use an already built folder

Needs Playwright (the Python package; its own browser download is not used) and Chromium (/usr/bin/chromium, or
E2E_CHROMIUM). The Chinese pages need a CJK font in the system (Debian: fonts-noto-cjk or fonts-wqy-microhei);
without one they show empty boxes, and the script says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
VIEWS = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 800}}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}
BOOT_TIMEOUT_MS = 120_000


def load_build():
    sys.path.insert(0, str(ROOT / "e2e"))
    from conftest import load_build_module, site_is_fresh  # the e2e helpers, reused

    return load_build_module(), site_is_fresh


def ensure_site(site: Path | None) -> Path:
    _, site_is_fresh = load_build()
    if site is not None:
        if not (site / "index.html").is_file():
            sys.exit(f"{site} has no index.html")
        return site
    out = ROOT / "_site"
    if not site_is_fresh(out):
        print("building the site into _site/ …", flush=True)
        subprocess.run([sys.executable, "build.py", "--out", str(out)], cwd=ROOT, check=True)
    return out


def has_cjk_font() -> bool:
    fc = shutil.which("fc-list")
    if not fc:
        return True  # cannot tell
    return bool(subprocess.run([fc, ":lang=zh"], capture_output=True, text=True).stdout.strip())


def shoot(site: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    build, _ = load_build()
    server = build.make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    OUT.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            for view, viewport in VIEWS.items():
                for lang, locale in LOCALES.items():
                    phone = view == "phone"
                    ctx = browser.new_context(
                        viewport=viewport,
                        locale=locale,
                        is_mobile=phone,
                        has_touch=phone,
                        color_scheme="light",
                        service_workers="block",
                    )
                    page = ctx.new_page()
                    page.goto(url)
                    page.wait_for_selector(
                        "[data-testid=result-status][data-status=live]", timeout=BOOT_TIMEOUT_MS
                    )
                    shots = {f"{view}-{lang}.png": None}
                    if phone:
                        shots[f"{view}-{lang}-editing.png"] = "32768"
                    for name, seq_len in shots.items():
                        if seq_len is not None:
                            page.locator("[data-testid=input-seq_len]").scroll_into_view_if_needed()
                            page.fill("[data-testid=input-seq_len]", seq_len)
                            page.wait_for_selector("[data-testid=result-status][data-status=live]")
                            page.locator("[data-testid=mini-result]").wait_for(state="visible")
                            page.evaluate("() => document.activeElement.blur()")  # no focus ring in the shot
                        path = OUT / name
                        page.screenshot(path=str(path), animations="disabled", caret="hide")
                        written.append(path)
                    ctx.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--site", type=Path, help="an already built site folder (default: _site/, built if stale)"
    )
    args = ap.parse_args()
    if not has_cjk_font():
        print("warning: no CJK font found (fc-list :lang=zh); the zh-CN shots will show empty boxes")
    for path in shoot(ensure_site(args.site)):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
