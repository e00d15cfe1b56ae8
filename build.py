#!/usr/bin/env python3
"""Build the VRAM Insight static site: one command from a fresh checkout to a deployable folder.

    python build.py [--out _site] [--no-precompress] [--serve [--port 8000]] [--serve-only]

Steps (each fails loudly with a clear message and a non-zero exit):

1. ``npm ci`` (package.json + package-lock.json, exact versions) into ``.cache/build/npm`` and vendor Pyodide's
   core runtime, PyScript's ``dist/`` (minus ``.map``) from it, into versioned folders under ``vendor/``;
2. download the emscripten wheels from PyPI at the versions and sha256 hashes pinned below (cached in
   ``.cache/build/wheels``) and build our own wheel (``pip wheel . --no-deps``);
3. trim what the browser never imports (STDLIB_DROP, WHEEL_DROP), precompile the modules a traced engine run
   imports to .pyc and ship the rest without docstrings and comments (all under Node with Pyodide's own CPython),
   then write our own ``pyodide-lock.json`` listing exactly the shipped wheels (Pyodide's npm lock lists its own
   builds, whose hashes and versions do not match PyPI's wheels);
4. pre-render the default result, the catalog and one static page per catalog model with CPython and the engine;
5. write the manifest, icons, the service worker (versioned precache list) and ``health.json``;
6. precompress (``.br`` when the ``brotli`` package is available, ``.gz`` always), repacking zips and wheels as
   stored zips first when that makes the ``.br`` smaller.

``--serve`` serves the output on localhost the way production should: correct MIME types, explicit
Cache-Control, precompressed variants chosen by Accept-Encoding, Last-Modified / If-Modified-Since.

Only the standard library is needed (Python >= 3.11); pip is run as a subprocess to fetch wheels and, when they
are missing from the build interpreter, the engine's own dependency (pydantic) and brotli into the build cache.
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import hashlib
import html
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent
SITE = ROOT / "site"
CACHE = ROOT / ".cache" / "build"

# --- pinned runtime ------------------------------------------------------------------------------------------
PYODIDE_VERSION = "314.0.7"  # CPython 3.14.2, wheel platform pyemscripten_2026_0_wasm32
PYSCRIPT_VERSION = "0.7.31"
PYEMSCRIPTEN_PLATFORM = "pyemscripten_2026_0_wasm32"
PYODIDE_DIR = f"vendor/pyodide-{PYODIDE_VERSION}"
PYSCRIPT_DIR = f"vendor/pyscript-{PYSCRIPT_VERSION}"
MICROPYTHON_VERSION = "1.28.0-6"  # PyScript 0.7.31's default MicroPython, for an optional <script type="mpy">
MICROPYTHON_DIR = f"vendor/micropython-{MICROPYTHON_VERSION}"
MICROPYTHON_FILES = ("micropython.mjs", "micropython.wasm")
PYODIDE_CORE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")
# Stdlib parts the browser engine cannot use or never needs (dev tools, REPLs, servers, mail and XML stacks,
# multiprocessing, legacy 8-bit and CJK codecs), dropped from python_stdlib.zip: ~0.4 MB less to download.
# The build's import trace and smoke test run with the trimmed zip, so a needed module removed here fails the build.
STDLIB_DROP = re.compile(
    r"^(?:_pyrepl|unittest|multiprocessing|xml|xmlrpc|wsgiref|sqlite3|idlelib|turtledemo|tkinter|curses|dbm"
    r"|ensurepip|venv|lib2to3|pydoc_data|__phello__)/"
    r"|^(?:pdb|pydoc|doctest|pickletools|mailbox|imaplib|smtplib|ftplib|poplib|tabnanny|pyclbr|zipapp|antigravity"
    r"|this|__hello__|webbrowser|turtle|cProfile|profile|pstats|trace|tracemalloc|pty|tty|getpass|shelve|wave"
    r"|socketserver|modulefinder|symtable|_pydatetime|_pyio|_py_abc"
    # no import statement anywhere in the shipped code or the stdlib it can reach names these (static closure
    # over every traced module, pyodide's own packages and the wheels), and they are not imported by C code:
    r"|optparse|configparser|bdb|compileall|fileinput|cmd|code|shlex|timeit|filecmp|graphlib|sched|_markupbase"
    r"|logging/config|logging/handlers|html/parser|http/cookies|urllib/robotparser|importlib/metadata/diagnose"
    r"|ctypes/util|ctypes/wintypes|ctypes/_aix|json/tool|\w+/__main__|asyncio/tools"
    # and these cannot be imported anyway once the parts above are gone (multiprocessing, socketserver, xml):
    r"|concurrent/futures/process|http/server|plistlib)\.py$"
    r"|^(?:tomllib|ctypes/macholib)/"
    r"|^encodings/(?:cp(?!437\.|1252\.)\d+|mac_\w+|iso8859_(?!1\.|15\.)\d+|koi8_\w|kz1048|ptcp154|hp_roman8"
    r"|tis_620|palmos|big5\w*|euc_\w+|gb\w+|hz|iso2022_\w+|johab|shift_jis\w*|_win_cp_codecs|mbcs|oem)\.py$"
)
# Third-party wheel members the browser engine never imports: pydantic's V1 package (`pydantic.v1`, for code
# written against pydantic 1; pydantic 2 itself imports it only to warn about V1 models) and its mypy plugin, type
# stubs and SBOMs (~0.13 MB). Licence files stay. METADATA keeps its headers only (trim_wheel).
WHEEL_DROP = re.compile(r"^pydantic/(?:v1/|mypy\.py$)|\.pyi$|\.dist-info/sboms/")
# Host-side helpers installed into the build cache when the build interpreter lacks them.
HOST_PYDANTIC = "pydantic==2.14.4"
HOST_BROTLI = "brotli==1.2.1"

# The modules Python imports while booting and answering typical calls are compiled to .pyc at build time by the
# very CPython that runs in the browser (Pyodide under Node), so the browser does not compile them at every start:
# engine ready in ~0.56x the time (measured, paired A/B). Only those modules: a .pyc compresses ~2x worse than
# its source, so compiling the whole stdlib would cost ~1.7 MB more transfer; the selection costs ~0.9 MB.
# Bump PYCOMPILE_REV when the compile script or the selection changes (it keys the cache).
PYCOMPILE_REV = "4"
SITE_PACKAGES = "/lib/python3.14/site-packages/"
STDLIB_ZIP_PATH = "/lib/python314.zip/"

PYCOMPILE_PY = r"""
import ast, base64, csv, hashlib, io, zipfile
import importlib.util
import importlib._bootstrap_external as _be


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


class _DropDocstrings(ast.NodeTransformer):
    # What -OO does to docstrings (asserts are kept): __doc__ becomes None, nothing else changes.
    def _strip(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.copy_location(ast.Pass(), body[0])]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def _minify(data, filename):
    # The module without docstrings (as under -OO) and comments, via ast.unparse; None unless re-parsing the
    # result gives exactly the same tree (the round trip CPython's own test_unparse checks on the stdlib).
    tree = _DropDocstrings().visit(ast.parse(data, filename))
    text = ast.unparse(tree)
    if ast.dump(ast.parse(text, filename)) != ast.dump(tree):
        return None
    return text.encode("utf-8") + b"\n"


def compile_zip(src, dst, prefix, selected, strip_docs, minify=False):
    # Replace each selected x.py member by a sourceless x.pyc (unchecked hash-based); with `minify`, rewrite every
    # other .py without docstrings and comments; fix RECORD.
    zin = zipfile.ZipFile(src)
    selected = set(selected)
    members, compiled, kept, minified = [], 0, 0, 0
    for info in zin.infolist():
        name, data = info.filename, zin.read(info.filename)
        if name in selected and name.endswith(".py") and not info.is_dir():
            try:
                tree = ast.parse(data, prefix + name)
                if strip_docs:
                    tree = _DropDocstrings().visit(tree)
                code = compile(tree, prefix + name, "exec", dont_inherit=True, optimize=0)
            except (SyntaxError, ValueError):
                kept += 1
            else:
                data = bytes(_be._code_to_hash_pyc(code, importlib.util.source_hash(data), False))
                name = name[:-3] + ".pyc"
                compiled += 1
        elif minify and name.endswith(".py") and not info.is_dir():
            try:
                small = _minify(data, prefix + name)
            except (SyntaxError, ValueError, RecursionError):
                small = None
            if small is not None and len(small) < len(data):
                data = small
                minified += 1
        members.append((info, name, data))
    names = {n: d for _, n, d in members}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for info, name, data in members:
            if name.endswith(".dist-info/RECORD"):
                rows = []
                for row in csv.reader(io.StringIO(data.decode("utf-8"))):
                    if row and row[0].endswith(".py") and row[0] not in names and row[0] + "c" in names:
                        row = [row[0] + "c"]
                    if row and row[0] in names and not row[0].endswith("/RECORD"):
                        body = names[row[0]]
                        row = [row[0], _record_hash(body), str(len(body))]
                    if row:
                        rows.append(row)
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(rows)
                data = buf.getvalue().encode("utf-8")
            zi = zipfile.ZipInfo(name, info.date_time)
            zi.external_attr = info.external_attr
            zi.compress_type = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            out.writestr(zi, data)
    return f"{compiled} compiled, {minified} minified, {kept} not compilable"


def imported_files():
    import sys
    return sorted({f for m in list(sys.modules.values()) if isinstance(f := getattr(m, "__file__", None), str)})
"""

# Runs Pyodide under Node. Modes: "compile" (jobs: [{src, dst, prefix}]) and "smoke" (boot the built runtime from
# the output folder exactly as the browser will, load our lock's packages, call the engine).
NODE_RUNNER_JS = r"""
import fs from "node:fs";
import { pathToFileURL } from "node:url";
const [mode, indexDir, argPath] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(indexDir + "pyodide.mjs").href);
const quiet = { stdout: () => {}, stderr: (line) => process.stderr.write(line + "\n") };
const t0 = performance.now();
const py = await loadPyodide({ indexURL: indexDir, ...quiet });
const arg = JSON.parse(fs.readFileSync(argPath, "utf8"));
if (mode === "compile") {
  // 1. trace: install the wheels (from a temporary lock), import the engine, make typical calls, list the modules
  //    Python loaded; 2. compile exactly those to .pyc.
  const t = arg.trace;
  const tracer = await loadPyodide({ indexURL: indexDir, lockFileURL: t.lock, packageBaseUrl: t.base, ...quiet });
  await tracer.loadPackage(t.packages, { messageCallback: () => {} });
  const api = tracer.pyimport(t.module);
  for (const [op, payload] of t.calls) {
    const reply = JSON.parse(api.call(op, payload));
    if (!reply.ok) throw new Error(`trace call ${op} failed: ${JSON.stringify(reply.error)}`);
  }
  tracer.runPython(arg.script);
  const files = tracer.globals.get("imported_files")().toJs();
  py.runPython(arg.script);
  const compileZip = py.globals.get("compile_zip");
  for (const job of arg.jobs) {
    const selected = files.filter((f) => f.startsWith(job.prefix)).map((f) => f.slice(job.prefix.length));
    py.FS.writeFile("/tmp/in.zip", fs.readFileSync(job.src));
    const summary = compileZip("/tmp/in.zip", "/tmp/out.zip", job.prefix, selected, job.strip_docs, job.minify);
    fs.writeFileSync(job.dst, py.FS.readFile("/tmp/out.zip"));
    console.log(JSON.stringify({ dst: job.dst, summary }));
  }
} else if (mode === "smoke") {
  await py.loadPackage(arg.packages, { messageCallback: () => {}, errorCallback: (m) => process.stderr.write(m + "\n") });
  const tImport = performance.now();
  const webApi = py.pyimport(arg.module);
  const out = { boot_ms: Math.round(tImport - t0), import_ms: Math.round(performance.now() - tImport), replies: {} };
  for (const [op, payload] of arg.calls) out.replies[op] = JSON.parse(webApi.call(op, payload));
  console.log(JSON.stringify(out));
}
"""


@dataclass(frozen=True)
class PinnedWheel:
    """A third-party wheel shipped to the browser, fetched from PyPI and checked against a pinned sha256."""

    name: str
    version: str
    file_name: str
    sha256: str


PINNED_WHEELS: tuple[PinnedWheel, ...] = (
    PinnedWheel(
        "pydantic",
        "2.14.4",
        "pydantic-2.14.4-py3-none-any.whl",
        "653a2ad9f6d8858529c77c72717d0ea991d6c6837fe683246b2f4b2bbfc3fadc",
    ),
    PinnedWheel(
        "pydantic-core",
        "2.50.5",
        f"pydantic_core-2.50.5-cp314-cp314-{PYEMSCRIPTEN_PLATFORM}.whl",
        "b2910ec0fa5aeb9bef70156f2b79f4783978fdcfaa7b2f1b5d1814458d2e79a1",
    ),
    PinnedWheel(
        "typing-extensions",
        "4.16.0",
        "typing_extensions-4.16.0-py3-none-any.whl",
        "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8",
    ),
    PinnedWheel(
        "typing-inspection",
        "0.4.5",
        "typing_inspection-0.4.5-py3-none-any.whl",
        "bc210535442b39e1bf2805e0c7a17dfd6a4ace760c84c7f7d16245d23a6b1c39",
    ),
    PinnedWheel(
        "annotated-types",
        "0.8.0",
        "annotated_types-0.8.0-py3-none-any.whl",
        "f072f4d804ea359e4eaf198b1af7a8b0943881a87f31bb764f8bf219bb9419e0",
    ),
)

# The request the pre-rendered result answers (and the UI's initial state).
DEFAULT_REQUEST: dict[str, Any] = {
    "mode": "inference",
    "model": "llama-3.1-8b",
    "seq_len": 4096,
    "gpu": "rtx-4090",
}

# Static model pages: rows (mode/workload) x columns (weight format), one table per context length.
# Columns: weight formats. Rows: workloads; each maps a column to the request that answers it (None: not a
# meaningful combination, shown as "—"). LoRA runs on a bf16 base, QLoRA on NF4; full training keeps bf16 weights.
MODEL_PAGE_WEIGHTS = ("bf16", "fp8", "int8", "int4 / NF4")
MODEL_PAGE_CONTEXTS = (4096, 32768, 131072)
Row = tuple[str, tuple[dict[str, Any] | None, ...]]
MODEL_PAGE_ROWS_TEXT: tuple[Row, ...] = (
    (
        "Inference",
        tuple({"mode": "inference", "weights": w} for w in ("bf16", "fp8", "int8", "int4")),
    ),
    (
        "LoRA / QLoRA fine-tuning",
        ({"mode": "finetune", "method": "lora"}, None, None, {"mode": "finetune", "method": "qlora"}),
    ),
    ("Full training (AdamW, mixed precision)", ({"mode": "training"}, None, None, None)),
)
_MM = {"mode": "multimodal", "images": 1}
MODEL_PAGE_ROWS_MM: tuple[Row, ...] = (
    (
        "Inference, 1 image",
        tuple({**_MM, "task": "inference", "weights": w} for w in ("bf16", "fp8", "int8", "int4")),
    ),
    (
        "LoRA / QLoRA fine-tuning, 1 image",
        (
            {**_MM, "task": "finetune", "method": "lora"},
            None,
            None,
            {**_MM, "task": "finetune", "method": "qlora"},
        ),
    ),
    ("Full training, 1 image", ({**_MM, "task": "training"}, None, None, None)),
)

GB = 10**9
GIB = 2**30

# --- content types and cache policy (shared by --serve, nginx.conf and the tests) -----------------------------
MIME_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".whl": "application/octet-stream",
    ".zip": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".toml": "application/toml",
    ".woff2": "font/woff2",
}
DEFAULT_MIME = "application/octet-stream"
# Files worth precompressing (text, wasm, and zips whose contents we may store uncompressed).
COMPRESSIBLE = frozenset(
    {
        ".html",
        ".js",
        ".mjs",
        ".css",
        ".json",
        ".webmanifest",
        ".svg",
        ".xml",
        ".txt",
        ".md",
        ".py",
        ".toml",
        ".wasm",
        ".zip",
        ".whl",
    }
)
MIN_COMPRESS_BYTES = 256
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"
OUR_WHEEL_PREFIX = "vram_insight-"

# Served by --serve and deploy/nginx.conf alike, so CSP problems show up locally too.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "connect-src 'self' https://huggingface.co; img-src 'self' data: blob:; style-src 'self'; "
    "font-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# The engine console (site/console/, a PyScript page) is the one path that needs 'unsafe-eval': PyScript 0.7.31
# compiles its worker hooks with Function(), on the page and in its blob: worker (which inherits the page's
# policy). Everything else in the policy stays as strict as the rest of the site. deploy/nginx.conf has the same
# split (its `$vram_csp` map).
CONSOLE_PATH = "console/"
CONSOLE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self' 'wasm-unsafe-eval';", "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval';", 1
)


def security_headers(rel_path: str) -> dict[str, str]:
    """The security headers for a site-relative path: the console's relaxed CSP under console/, else the strict
    one."""
    if rel_path.lstrip("/").startswith(CONSOLE_PATH):
        return {**SECURITY_HEADERS, "Content-Security-Policy": CONSOLE_CONTENT_SECURITY_POLICY}
    return SECURITY_HEADERS


class BuildError(RuntimeError):
    """A build step failed; the message says what and how to fix it."""


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


# === small pure helpers (unit-tested in tests/test_build.py) =================================================
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise BuildError with a clear message when ``path`` is missing or its sha256 is not ``expected``."""
    if not path.is_file():
        raise BuildError(f"{path.name}: file missing after download (expected sha256 {expected})")
    actual = sha256_file(path)
    if actual != expected:
        raise BuildError(
            f"sha256 mismatch for {path.name}:\n  expected {expected}\n  got      {actual}\n"
            "The file is not the pinned release (corrupt download, tampered mirror or a re-uploaded file). "
            "Delete .cache/build/wheels and rebuild; if it persists, check the index pip uses."
        )


def canonical_name(name: str) -> str:
    """PEP 503 normalisation, as Pyodide keys its lock file."""
    return re.sub(r"[-_.]+", "-", name).lower()


def mime_type(path: str) -> str:
    return MIME_TYPES.get(PurePosixPath(path).suffix.lower(), DEFAULT_MIME)


def cache_control(rel_path: str) -> str:
    """Cache-Control for a site-relative path (no leading slash).

    Files under ``vendor/`` live in folders named after their release (``pyodide-314.0.7``) or carry a content hash
    or version in their name, so they never change under the same URL: cache them for a year. Our own wheel and
    lock (rewritten by every build) and everything else (pages, app code, sw.js, health.json) must be revalidated.
    """
    p = PurePosixPath(rel_path.lstrip("/"))
    if (
        p.parts
        and p.parts[0] == "vendor"
        and not (p.name == "pyodide-lock.json" or p.name.startswith(OUR_WHEEL_PREFIX))
    ):
        return CACHE_IMMUTABLE
    return CACHE_REVALIDATE


def json_for_script(value: Any) -> str:
    """JSON safe to embed in ``<script type="application/json">``: no ``</script>``, no HTML comments, no
    U+2028/U+2029. ``JSON.parse`` gives back exactly ``value``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def esc(value: Any) -> str:
    """Escape any value as HTML text or attribute content."""
    return html.escape(str(value), quote=True)


def replace_marker(document: str, marker: str, replacement: str) -> str:
    """Replace the single ``<!-- marker -->`` comment in ``document``; fail if it is missing or repeated."""
    token = f"<!-- {marker} -->"
    count = document.count(token)
    if count != 1:
        raise BuildError(f"site/index.html must contain {token!r} exactly once (found {count})")
    return document.replace(token, replacement)


def fmt_gb(nbytes: int | float) -> str:
    return f"{nbytes / GB:,.2f} GB"


def fmt_gib(nbytes: int | float) -> str:
    return f"{nbytes / GIB:,.2f} GiB"


def fmt_params(n: int | None) -> str:
    if not n:
        return "—"
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


COMPONENT_LABELS = {"kv_cache": "KV cache", "lora": "LoRA adapters", "cuda_context": "CUDA context"}


def humanize(name: str) -> str:
    return COMPONENT_LABELS.get(name) or name.replace("_", " ").strip().capitalize()


# --- wheels and the Pyodide lock -----------------------------------------------------------------------------
@dataclass
class WheelInfo:
    path: Path
    name: str  # distribution name as in METADATA
    version: str
    requires: list[tuple[str, str]]  # (canonical name, marker or "")
    imports: list[str]
    sha256: str = ""
    file_name: str = ""

    def __post_init__(self) -> None:
        self.file_name = self.file_name or self.path.name


def wheel_top_level(names: Iterable[str]) -> list[str]:
    """Importable top-level names of a wheel, from its file list (packages and top-level modules)."""
    tops: set[str] = set()
    for raw in names:
        parts = raw.split("/")
        head = parts[0]
        if head.endswith((".dist-info", ".data")) or not head:
            continue
        if len(parts) == 1:
            stem = head.split(".")[0]
            if head.endswith((".py", ".so", ".pyd")) and stem.isidentifier():
                tops.add(stem)
        elif head.isidentifier() and (parts[-1].endswith((".py", ".so", ".pyi")) or parts[-1] == "py.typed"):
            tops.add(head)
    return sorted(tops)


def read_wheel(path: Path) -> WheelInfo:
    """Name, version, requirements and importable names of a wheel (read from its METADATA and file list)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            meta_name = next(
                (n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None
            )
            if meta_name is None:
                raise BuildError(f"{path.name}: not a wheel (no *.dist-info/METADATA)")
            meta = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    except zipfile.BadZipFile as exc:
        raise BuildError(f"{path.name}: not a valid zip/wheel: {exc}") from None
    requires: list[tuple[str, str]] = []
    for req in meta.get_all("Requires-Dist") or []:
        spec, _, marker = req.partition(";")
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
        if m:
            requires.append((canonical_name(m.group(1)), marker.strip()))
    return WheelInfo(
        path=path,
        name=meta["Name"],
        version=meta["Version"],
        requires=requires,
        imports=wheel_top_level(names),
    )


def build_lock(base_lock: dict[str, Any], wheels: list[WheelInfo]) -> dict[str, Any]:
    """Our pyodide-lock.json: Pyodide's ``info`` block plus exactly the shipped wheels.

    Requirements guarded by an ``extra`` marker are optional and dropped; other unmet requirements with a marker
    (e.g. ``sys_platform == 'win32'``) are dropped too; an unmet unconditional requirement is an error, since
    Pyodide would otherwise try to fetch it from PyPI (a network leak online, a failure offline).
    """
    shipped = {canonical_name(w.name): w for w in wheels}
    if len(shipped) != len(wheels):
        raise BuildError("two shipped wheels have the same distribution name")
    packages: dict[str, Any] = {}
    for key in sorted(shipped):
        w = shipped[key]
        if not w.sha256:
            raise BuildError(f"{w.file_name}: sha256 not computed")
        depends: list[str] = []
        for dep, marker in w.requires:
            if "extra" in marker:
                continue
            if dep in shipped:
                if dep not in depends:
                    depends.append(dep)
            elif not marker:
                raise BuildError(
                    f"{w.file_name} requires {dep!r}, which is not shipped: pin its wheel in build.py"
                )
        packages[key] = {
            "name": w.name,
            "version": w.version,
            "file_name": w.file_name,
            "install_dir": "site",
            "sha256": w.sha256,
            "package_type": "package",
            "imports": w.imports,
            "depends": sorted(depends),
            "unvendored_tests": False,
        }
    info = dict(base_lock.get("info") or {})
    if not info:
        raise BuildError("Pyodide's pyodide-lock.json has no 'info' block")
    return {"info": info, "packages": packages}


def member_order(info: zipfile.ZipInfo) -> tuple[bool, str, str]:
    """Zip member order for repacking: like files next to each other (.pyc, then .py, ...) so that brotli finds
    more matches (-13 KB on the stdlib), a wheel's .dist-info last (as the wheel spec recommends)."""
    name = info.filename
    return (".dist-info/" in name, PurePosixPath(name).suffix, name)


def repack_stored(data: bytes) -> bytes:
    """The same zip with every member stored (uncompressed) and grouped by type (member_order): brotli then
    compresses across files."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in sorted(src.infolist(), key=member_order):
            clone = zipfile.ZipInfo(info.filename, info.date_time)
            clone.external_attr = info.external_attr
            clone.create_system = info.create_system
            clone.compress_type = zipfile.ZIP_STORED
            dst.writestr(clone, src.read(info))
    return out.getvalue()


# --- compression -----------------------------------------------------------------------------------------------
class Compressor:
    """gzip (always) and brotli (when importable) with a content-addressed cache: brotli at quality 11 takes
    ~40 s on Pyodide's wasm, so unchanged files are never compressed twice."""

    def __init__(self, cache_dir: Path, brotli_module: Any | None) -> None:
        self.cache_dir = cache_dir
        self.brotli = brotli_module
        cache_dir.mkdir(parents=True, exist_ok=True)

    def _cached(self, data: bytes, ext: str, fn: Callable[[bytes], bytes]) -> bytes:
        path = self.cache_dir / f"{sha256_bytes(data)}{ext}"
        if path.is_file():
            return path.read_bytes()
        out = fn(data)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(out)
        tmp.replace(path)
        return out

    def gz(self, data: bytes) -> bytes:
        return self._cached(data, ".gz", lambda d: gzip.compress(d, compresslevel=9, mtime=0))

    def br(self, data: bytes) -> bytes | None:
        if self.brotli is None:
            return None
        return self._cached(data, ".br", lambda d: self.brotli.compress(d, quality=11))

    def best(self, data: bytes) -> int:
        """Transfer size with the best encoding available."""
        b = self.br(data)
        return len(b) if b is not None else len(self.gz(data))


def choose_zip_packing(data: bytes, comp: Compressor) -> tuple[bytes, str]:
    """Keep the original zip or its stored repack, whichever transfers smaller (measured, not assumed)."""
    try:
        stored = repack_stored(data)
    except zipfile.BadZipFile as exc:
        raise BuildError(f"cannot repack zip: {exc}") from None
    if comp.best(stored) < comp.best(data):
        return stored, "stored"
    return data, "deflated"


# --- subprocess helpers ------------------------------------------------------------------------------------------
def run(cmd: list[str], what: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError(f"{what}: command not found: {cmd[0]} (is it installed and on PATH?)") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout


def pip_cmd() -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def ensure_host_module(module: str, requirement: str, *, required: bool) -> Any | None:
    """Import ``module``; if missing, pip-install ``requirement`` into the build cache and retry."""
    try:
        return __import__(module)
    except ImportError:
        pass
    target = CACHE / "pydeps" / f"py{sys.version_info.major}{sys.version_info.minor}"
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    try:
        return __import__(module)
    except ImportError:
        pass
    log(f"installing {requirement} into {target.relative_to(ROOT)} (build-time only)")
    try:
        run(
            [*pip_cmd(), "install", "--quiet", "--target", str(target), requirement],
            f"pip install {requirement}",
        )
        return __import__(module)
    except (BuildError, ImportError) as exc:
        if required:
            raise BuildError(
                f"{module} is needed to build the site and could not be installed:\n{exc}"
            ) from None
        log(f"warning: {module} unavailable ({str(exc).splitlines()[0]}); skipping that step")
        return None


def build_timestamp(env: Mapping[str, str], now: float | None = None) -> str:
    """The build time as UTC ISO 8601 (``2026-01-02T03:04:05Z``): ``SOURCE_DATE_EPOCH`` when set, for reproducible
    builds (https://reproducible-builds.org/specs/source-date-epoch/: whole seconds since 1970-01-01 UTC), else
    ``now``."""
    raw = env.get("SOURCE_DATE_EPOCH")
    if raw is not None and raw.strip() != "":
        if not re.fullmatch(r"\d{1,12}", raw.strip()):
            raise BuildError(
                f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970-01-01 UTC"
            )
        seconds = float(int(raw.strip()))
    else:
        seconds = time.time() if now is None else now
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# === build steps =================================================================================================
@dataclass
class BuildContext:
    out: Path
    precompress: bool = True
    site_url: str = ""
    started: float = field(default_factory=time.time)
    build_time: str = field(default_factory=lambda: build_timestamp(os.environ))
    wheels: list[WheelInfo] = field(default_factory=list)
    catalog: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    comp: Compressor | None = None
    report: dict[str, Any] = field(default_factory=dict)
    trim_stdlib: bool = True
    minify: bool = True


def npm_install() -> Path:
    """``npm ci`` into the cache (skipped when the lock file has not changed); returns node_modules."""
    pkg, lock = ROOT / "package.json", ROOT / "package-lock.json"
    for f in (pkg, lock):
        if not f.is_file():
            raise BuildError(f"{f.name} is missing from the checkout")
    work = CACHE / "npm"
    stamp = work / ".lock-sha256"
    want = sha256_bytes(pkg.read_bytes() + lock.read_bytes())
    modules = work / "node_modules"
    if modules.is_dir() and stamp.is_file() and stamp.read_text().strip() == want:
        return modules
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pkg, work / "package.json")
    shutil.copyfile(lock, work / "package-lock.json")
    log("npm ci (pinned Pyodide / PyScript)")
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm not found: install Node.js >= 20 (it provides npm), then rerun")
    run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci", cwd=work)
    stamp.write_text(want)
    return modules


def vendor_runtime(ctx: BuildContext, modules: Path) -> dict[str, Any]:
    pyodide_src = modules / "pyodide"
    version = json.loads((pyodide_src / "package.json").read_text())["version"]
    if version != PYODIDE_VERSION:
        raise BuildError(
            f"npm installed pyodide {version}, build.py pins {PYODIDE_VERSION}: update package.json"
        )
    dst = ctx.out / PYODIDE_DIR
    dst.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_CORE_FILES:
        src = pyodide_src / name
        if not src.is_file():
            raise BuildError(f"pyodide@{PYODIDE_VERSION} lacks {name}")
        shutil.copyfile(src, dst / name)
    if ctx.trim_stdlib:
        data, removed = trim_stdlib((dst / "python_stdlib.zip").read_bytes())
        (dst / "python_stdlib.zip").write_bytes(data)
        ctx.notes.append(f"python_stdlib.zip: {removed} unneeded files removed")
    ps_src = modules / "@pyscript" / "core" / "dist"
    ps_version = json.loads((modules / "@pyscript" / "core" / "package.json").read_text())["version"]
    if ps_version != PYSCRIPT_VERSION:
        raise BuildError(f"npm installed @pyscript/core {ps_version}, build.py pins {PYSCRIPT_VERSION}")
    mpy_src = modules / "@micropython" / "micropython-webassembly-pyscript"
    mpy_version = json.loads((mpy_src / "package.json").read_text())["version"]
    if mpy_version != MICROPYTHON_VERSION:
        raise BuildError(f"npm installed MicroPython {mpy_version}, build.py pins {MICROPYTHON_VERSION}")
    (ctx.out / MICROPYTHON_DIR).mkdir(parents=True, exist_ok=True)
    for name in MICROPYTHON_FILES:
        shutil.copyfile(mpy_src / name, ctx.out / MICROPYTHON_DIR / name)
    ps_dst = ctx.out / PYSCRIPT_DIR
    for src in sorted(ps_src.rglob("*")):
        if src.is_file() and src.suffix != ".map":
            target = ps_dst / src.relative_to(ps_src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    return json.loads((pyodide_src / "pyodide-lock.json").read_text())


def trim_stdlib(data: bytes, drop: re.Pattern[str] = STDLIB_DROP) -> tuple[bytes, int]:
    """python_stdlib.zip without the members ``drop`` matches; returns (zip, number of files removed)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    removed = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if drop.search(info.filename):
                removed += not info.is_dir()
                continue
            dst.writestr(info, src.read(info))
    return out.getvalue(), removed


def record_hash(data: bytes) -> str:
    """A RECORD hash entry (PEP 376 / the wheel spec)."""
    import base64

    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata_headers(data: bytes) -> bytes:
    """A METADATA file without its body (the long description)."""
    text = data.decode("utf-8")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    return (head.rstrip("\r\n") + "\n").encode("utf-8")


def trim_wheel(data: bytes, drop: re.Pattern[str] = WHEEL_DROP) -> tuple[bytes, int]:
    """A wheel without the members ``drop`` matches, METADATA cut to its headers (pydantic's long description is
    its changelog, 144 KB) and RECORD rewritten to match; returns (wheel, number of files removed)."""
    import csv

    src = zipfile.ZipFile(io.BytesIO(data))
    members: list[tuple[zipfile.ZipInfo, bytes]] = []
    removed = 0
    for info in src.infolist():
        if drop.search(info.filename):
            removed += not info.is_dir()
            continue
        body = src.read(info)
        if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA"):
            body = metadata_headers(body)
        members.append((info, body))
    kept = {info.filename: body for info, body in members}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, body in members:
            if info.filename.endswith(".dist-info/RECORD"):
                rows = []
                for row in csv.reader(io.StringIO(body.decode("utf-8"))):
                    if not row or (row[0] not in kept):
                        continue
                    if row[0] != info.filename:
                        row = [row[0], record_hash(kept[row[0]]), str(len(kept[row[0]]))]
                    rows.append(row)
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(rows)
                body = buf.getvalue().encode("utf-8")
            dst.writestr(info, body)
    return out.getvalue(), removed


def trimmed_wheels(sources: list[Path]) -> tuple[list[Path], list[str]]:
    """Third-party wheels through trim_wheel (cached by content; our own wheel is shipped whole)."""
    out_dir = CACHE / "trimmed-wheels"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, notes = [], []
    for src in sources:
        if src.name.startswith(OUR_WHEEL_PREFIX):
            paths.append(src)
            continue
        data = src.read_bytes()
        folder = out_dir / sha256_bytes(data + f"{WHEEL_DROP.pattern}\0{PYCOMPILE_REV}".encode())[:16]
        dst = folder / src.name
        if not dst.is_file():
            trimmed, removed = trim_wheel(data)
            folder.mkdir(exist_ok=True)
            dst.with_suffix(".tmp").write_bytes(trimmed)
            dst.with_suffix(".tmp").replace(dst)
            notes.append(f"{src.name}: trimmed ({removed} files dropped, METADATA headers only)")
        paths.append(dst)
    return paths, notes


def fetch_pinned_wheels() -> list[Path]:
    """Download (or reuse from cache) every pinned wheel and verify its sha256."""
    cache = CACHE / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    missing = []
    for w in PINNED_WHEELS:
        path = cache / w.file_name
        if path.is_file() and sha256_file(path) != w.sha256:
            log(f"cached {w.file_name} has a wrong sha256; downloading it again")
            path.unlink()
        if not path.is_file():
            missing.append(w)
    if missing:
        log("downloading " + ", ".join(f"{w.name}=={w.version}" for w in missing))
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            run(
                [
                    *pip_cmd(),
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--python-version",
                    "3.14",
                    "--implementation",
                    "cp",
                    "--abi",
                    "cp314",
                    "--platform",
                    PYEMSCRIPTEN_PLATFORM,
                    "--dest",
                    tmp,
                    *(f"{w.name}=={w.version}" for w in missing),
                ],
                "pip download (emscripten wheels; needs network access to PyPI)",
            )
            for w in missing:
                got = Path(tmp) / w.file_name
                if not got.is_file():
                    found = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
                    raise BuildError(f"pip did not download {w.file_name} (got: {found})")
                verify_sha256(got, w.sha256)
                shutil.move(str(got), cache / w.file_name)
    paths = []
    for w in PINNED_WHEELS:
        path = cache / w.file_name
        verify_sha256(path, w.sha256)
        paths.append(path)
    return paths


def build_own_wheel() -> Path:
    out = CACHE / "own-wheel"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="315619200")  # reproducible zip timestamps (1980-01-02)
    log("building the engine wheel (pip wheel . --no-deps)")
    run(
        [*pip_cmd(), "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        "pip wheel .",
        env=env,
    )
    built = sorted(out.glob("*.whl"))
    if len(built) != 1:
        raise BuildError(f"pip wheel produced {len(built)} wheels, expected 1")
    if not built[0].name.startswith(OUR_WHEEL_PREFIX):
        raise BuildError(f"unexpected engine wheel name {built[0].name} (expected {OUR_WHEEL_PREFIX}*)")
    return built[0]


def node_run(mode: str, index_dir: Path, arg: dict[str, Any], what: str) -> str:
    """Run Pyodide under Node (NODE_RUNNER_JS) and return its stdout."""
    node = shutil.which("node")
    if node is None:
        raise BuildError(
            "node not found: install Node.js >= 20 (needed for npm and to run Pyodide at build time)"
        )
    work = CACHE / "node"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "pyodide-runner.mjs"
    if not script.is_file() or script.read_text() != NODE_RUNNER_JS:
        script.write_text(NODE_RUNNER_JS)
    arg_file = work / f"{mode}-{os.getpid()}.json"
    arg_file.write_text(json.dumps(arg))
    try:
        index = index_dir.resolve().as_posix().rstrip("/") + "/"
        return run([node, str(script), mode, index, str(arg_file)], what)
    finally:
        arg_file.unlink(missing_ok=True)


# Calls made while tracing which modules to precompile (every op, every mode).
TRACE_CONFIG = {
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_hidden_layers": 2,
    "vocab_size": 1000,
}


def trace_calls() -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = [("info", {}), ("catalog", {}), ("schema", {})]
    calls.append(("report", DEFAULT_REQUEST))
    for mode in ("finetune", "training", "grpo"):
        calls.append(("report", {**DEFAULT_REQUEST, "mode": mode}))
    calls.append(("parse_config", {"config": TRACE_CONFIG}))
    calls.append(("estimate", {"mode": "inference", "model": None, "config": TRACE_CONFIG, "gpu": None}))
    return calls


def pycompile(
    modules: Path, items: list[tuple[Path, str]], base_lock: dict[str, Any], *, minify: bool = True
) -> dict[Path, Path]:
    """Compile, in each (zip, install prefix), the modules a traced run imports; cached by content. With
    ``minify``, the other modules of the stdlib and the third-party wheels ship without docstrings and comments
    (``ast.unparse``, checked by re-parsing): ~0.25 MB less to download; our own wheel keeps its sources (pydantic
    reads model docstrings for the schema).

    ``items``: the stdlib zip first, then the wheels. Returns {source zip: compiled zip}."""
    calls = trace_calls()
    h = hashlib.sha256(
        f"{PYODIDE_VERSION}\0{PYCOMPILE_REV}\0{minify}\0{json.dumps(calls, sort_keys=True)}".encode()
    )
    for src, prefix in items:
        h.update(f"\0{prefix}\0{src.name}\0{sha256_file(src)}".encode())
    folder = CACHE / "pyc" / h.hexdigest()[:24]
    result = {src: folder / src.name for src, _ in items}
    if (folder / "done").is_file():
        return result
    shutil.rmtree(folder, ignore_errors=True)
    trace_dir = folder / "trace"
    trace_dir.mkdir(parents=True)
    wheels = []
    for src, _ in items[1:]:
        shutil.copyfile(src, trace_dir / src.name)
        info = read_wheel(trace_dir / src.name)
        info.sha256 = sha256_file(src)
        wheels.append(info)
    (trace_dir / "pyodide-lock.json").write_text(json.dumps(build_lock(base_lock, wheels)))
    cfg = runtime_config(wheels)
    arg = {
        "script": PYCOMPILE_PY,
        "trace": {
            "lock": str(trace_dir / "pyodide-lock.json"),
            "base": trace_dir.as_posix() + "/",
            "packages": cfg["packages"],
            "module": cfg["module"],
            "calls": [[op, json.dumps(payload)] for op, payload in calls],
        },
        "jobs": [
            {
                "src": str(src),
                "dst": str(folder / src.name) + ".tmp",
                "prefix": p,
                "strip_docs": not src.name.startswith(OUR_WHEEL_PREFIX),
                "minify": minify and not src.name.startswith(OUR_WHEEL_PREFIX),
            }
            for src, p in items
        ],
    }
    log("tracing the engine's imports and compiling them to .pyc with Pyodide's CPython (node)")
    out = node_run("compile", modules / "pyodide", arg, "pycompile (node + Pyodide)")
    for line in out.splitlines():
        if line.startswith("{"):
            job = json.loads(line)
            log(f"  {Path(job['dst']).name.removesuffix('.tmp')}: {job['summary']}")
    for job in arg["jobs"]:
        Path(job["dst"]).replace(job["dst"].removesuffix(".tmp"))
    shutil.rmtree(trace_dir)
    (folder / "done").write_text("ok\n")
    return result


def smoke_test(ctx: BuildContext, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Boot the shipped runtime + wheels under Node exactly as the worker does and call the engine."""
    cfg = runtime_config(ctx.wheels)
    arg = {
        "packages": cfg["packages"],
        "module": cfg["module"],
        "calls": [[op, json.dumps(payload)] for op, payload in calls],
    }
    out = node_run("smoke", ctx.out / PYODIDE_DIR, arg, "smoke test of the shipped engine (node + Pyodide)")
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise BuildError(f"smoke test printed no result:\n{out[-2000:]}") from None


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (None when equal; 16 and 16.0 are equal: JSON has one number type)."""
    number = (int, float)
    if (
        isinstance(a, number)
        and isinstance(b, number)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return None if a == b else f"{path or '/'}: {a!r} != {b!r}"
    if type(a) is not type(b):
        return f"{path or '/'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: only on one side"
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}/{i}")
            if d:
                return d
        return None
    return None if a == b else f"{path or '/'}: {a!r} != {b!r}"


def check_smoke(ctx: BuildContext) -> None:
    out = smoke_test(ctx, [("info", {}), ("report", DEFAULT_REQUEST)])
    replies = out.get("replies") or {}
    for op, reply in replies.items():
        if not reply.get("ok"):
            raise BuildError(f"smoke test: engine op {op!r} failed in Pyodide: {reply.get('error')}")
    diff = first_difference(replies["report"]["result"], ctx.report)
    if diff:
        raise BuildError(
            "smoke test: the engine in Pyodide and in CPython disagree on the default report "
            f"(the pre-rendered numbers would not match the live ones): {diff}"
        )
    ctx.notes.append(
        f"smoke test (node): boot {out.get('boot_ms')} ms, engine import {out.get('import_ms')} ms"
    )


def ship_wheels(
    ctx: BuildContext, base_lock: dict[str, Any], sources: list[Path], modules: Path | None
) -> None:
    """Copy the wheels next to the runtime (compiled to .pyc when ``modules`` is given, stored-repacked when that
    compresses better) and write the lock."""
    dst = ctx.out / PYODIDE_DIR
    stdlib = dst / "python_stdlib.zip"
    if ctx.trim_stdlib:
        sources, notes = trimmed_wheels(sources)
        ctx.notes += notes
    compiled: dict[Path, Path] = {}
    if modules is not None:
        items = [(stdlib, STDLIB_ZIP_PATH), *((w, SITE_PACKAGES) for w in sources)]
        compiled = pycompile(modules, items, base_lock, minify=ctx.minify)
        shutil.copyfile(compiled[stdlib], stdlib)
    for src in sources:
        data = compiled.get(src, src).read_bytes()
        packing = "original"
        if ctx.precompress and ctx.comp is not None:
            data, packing = choose_zip_packing(data, ctx.comp)
        (dst / src.name).write_bytes(data)
        info = read_wheel(dst / src.name)
        info.sha256 = sha256_bytes(data)
        ctx.wheels.append(info)
        ctx.notes.append(f"{src.name}: {packing}")
    lock = build_lock(base_lock, ctx.wheels)
    (dst / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    if ctx.precompress and ctx.comp is not None:
        data, packing = choose_zip_packing(stdlib.read_bytes(), ctx.comp)
        stdlib.write_bytes(data)
        ctx.notes.append(f"python_stdlib.zip: {packing}")


# --- engine (CPython) ------------------------------------------------------------------------------------------
def load_engine() -> Any:
    ensure_host_module("pydantic", HOST_PYDANTIC, required=True)
    engine_dir = str(ROOT / "engine")
    if engine_dir not in sys.path:
        sys.path.insert(0, engine_dir)
    try:
        from vram_insight import web_api  # type: ignore[import-not-found]
    except Exception as exc:
        raise BuildError(
            f"cannot import vram_insight.web_api from engine/: {type(exc).__name__}: {exc}"
        ) from exc
    return web_api


def engine_call(web_api: Any, op: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        reply = json.loads(web_api.call(op, json.dumps(payload)))
    except Exception as exc:  # web_api.call must never raise; say where it did
        tb = "".join(traceback.format_exception(exc)[-6:])
        raise BuildError(
            f"engine op {op!r} raised instead of replying (payload {json.dumps(payload)[:200]}):\n{tb}"
        ) from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise BuildError(f"engine op {op!r} returned a malformed reply: {str(reply)[:200]}")
    return reply


def engine_result(web_api: Any, op: str, payload: dict[str, Any]) -> Any:
    reply = engine_call(web_api, op, payload)
    if not reply["ok"]:
        err = reply.get("error") or {}
        raise BuildError(f"engine op {op!r} failed: {err.get('message')} (field {err.get('field')})")
    return reply["result"]


def render_result_summary(report: dict[str, Any], request: dict[str, Any]) -> str:
    """Static HTML for a report: total (GB and GiB), the breakdown table and the GPU fit. All text escaped."""
    est = report.get("estimate") or {}
    total = int(est.get("total_bytes") or 0)
    model = est.get("model") or {}
    components: dict[str, int] = est.get("components") or {}
    rows = []
    for name, nbytes in sorted(components.items(), key=lambda kv: -kv[1]):
        if not nbytes:
            continue
        share = (nbytes / total * 100) if total else 0.0
        rows.append(
            f'<tr data-component="{esc(name)}"><th scope="row">{esc(humanize(name))}</th>'
            f'<td class="num">{esc(fmt_gb(nbytes))}</td><td class="num">{esc(fmt_gib(nbytes))}</td>'
            f'<td class="num">{share:.1f}%</td></tr>'
        )
    parts = [
        '<div class="prerendered" data-prerendered="true" data-testid="prerendered-result">',
        f'<p class="pr-model">{esc(model.get("name") or request.get("model") or "")} · '
        f"{esc(est.get('mode') or request.get('mode', ''))} · {esc(request.get('seq_len', ''))} tokens</p>",
        f'<p class="pr-total"><span class="pr-label">Total</span> '
        f'<strong data-testid="prerendered-total-gb">{esc(fmt_gb(total))}</strong> '
        f'<span class="pr-gib" data-testid="prerendered-total-gib">({esc(fmt_gib(total))})</span></p>',
    ]
    fit = report.get("fit")
    if fit:
        verdict = "fits" if fit.get("fits") else "does not fit"
        util = float(fit.get("utilization") or 0) * 100
        parts.append(
            f'<p class="pr-fit" data-fits="{str(bool(fit.get("fits"))).lower()}">'
            f"{esc(fit.get('gpu_name') or fit.get('gpu'))} ({esc(fmt_gb(fit.get('capacity_bytes') or 0))}): "
            f"<strong>{esc(verdict)}</strong> — {util:.0f}% of memory</p>"
        )
    parts += [
        '<table class="pr-breakdown"><thead><tr><th scope="col">Component</th><th scope="col">GB</th>'
        '<th scope="col">GiB</th><th scope="col">Share</th></tr></thead><tbody>',
        *rows,
        "</tbody></table>",
        "</div>",
    ]
    return "\n".join(parts)


def prerender_index(
    source: str, catalog: Any, request: dict[str, Any], report: Any, presets: Any = None
) -> str:
    blocks = [
        ("prerendered-catalog", catalog),
        ("prerendered-request", request),
        ("prerendered-report", report),
    ]
    if presets is not None:
        blocks.append(("prerendered-presets", presets))
    data = "\n".join(
        f'<script type="application/json" id="{key}">{json_for_script(value)}</script>'
        for key, value in blocks
    )
    doc = replace_marker(source, "prerender:data", data)
    doc = replace_marker(doc, "prerender:result", render_result_summary(report, request))
    client = '<script type="module" src="engine/engine-client.js"></script>'
    if 'src="engine/engine-client.js"' not in doc.split("</head>", 1)[0]:
        # Start the worker as early as possible: a module script in <head> runs before the UI's module graph.
        if "</head>" not in doc:
            raise BuildError("site/index.html has no </head>")
        doc = doc.replace("</head>", f"{client}\n</head>", 1)
    return doc


def model_page_contexts(context_length: int) -> list[int]:
    ctxs = [c for c in MODEL_PAGE_CONTEXTS if c <= context_length]
    return ctxs or [context_length]


def model_page(web_api: Any, model: dict[str, Any], build_time: str) -> str:
    mid = str(model["id"])
    rows_spec = MODEL_PAGE_ROWS_MM if model.get("kind") == "multimodal" else MODEL_PAGE_ROWS_TEXT
    tables = []
    for ctx in model_page_contexts(int(model.get("context_length") or 4096)):
        body = []
        for label, specs in rows_spec:
            cells = []
            for overrides in specs:
                if overrides is None:
                    cells.append('<td class="na">—</td>')
                    continue
                req = {"model": mid, "seq_len": ctx, "gpu": None, **overrides}
                reply = engine_call(web_api, "estimate", req)
                if reply["ok"]:
                    total = int(reply["result"]["total_bytes"])
                    cells.append(f'<td class="num" title="{esc(fmt_gib(total))}">{esc(fmt_gb(total))}</td>')
                else:
                    msg = (reply.get("error") or {}).get("message") or "not supported"
                    cells.append(f'<td class="na" title="{esc(msg)}">—</td>')
            body.append(f'<tr><th scope="row">{esc(label)}</th>{"".join(cells)}</tr>')
        head = "".join(f'<th scope="col">{esc(w)}</th>' for w in MODEL_PAGE_WEIGHTS)
        tables.append(
            f"<h2>{esc(f'{ctx:,}')} tokens of context</h2>\n"
            f'<table class="mp-table"><thead><tr><th scope="col">Workload \\ weights</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    name = str(model.get("name") or mid)
    params = fmt_params(model.get("params_total"))
    active = model.get("params_active")
    active_txt = f", {fmt_params(active)} active" if active and active != model.get("params_total") else ""
    mods = ", ".join(model.get("modalities") or [])
    desc = f"GPU memory needed by {name} ({params} parameters) for inference, fine-tuning and training."
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(name)} GPU memory (VRAM) requirements — VRAM Insight</title>
<meta name="description" content="{esc(desc)}">
<link rel="stylesheet" href="../models.css">
<link rel="icon" href="../../icons/icon.svg" type="image/svg+xml">
</head>
<body>
<main class="mp">
<p class="mp-nav"><a href="../../">VRAM Insight</a> › <a href="../">Models</a></p>
<h1>{esc(name)}</h1>
<p class="mp-meta"><span>{esc(params)} parameters{esc(active_txt)}</span> · <span>{esc(model.get("family", ""))}</span>
 · <span>{esc(model.get("kind", ""))}{esc(f" ({mods})" if mods else "")}</span>
 · <span>context {esc(f"{int(model.get('context_length') or 0):,}")} tokens</span>
 · <span>{esc(model.get("hf_repo", ""))}</span></p>
<p><a class="mp-cta" href="../../#m={esc(mid)}">Open {esc(name)} in the calculator</a></p>
<p class="mp-note">Total GPU memory for batch size 1 on one GPU, in GB (10⁹ bytes); hover a cell for GiB.
Computed with the VRAM Insight engine when the site was built; the calculator has every option.</p>
{chr(10).join(tables)}
<p class="mp-foot">Built {esc(build_time)}.</p>
</main>
</body>
</html>
"""


MODELS_CSS = """\
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#5b6470;--line:#d8dde3;--accent:#1f5fbf}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--bg:#12161c;--muted:#9aa4b1;--line:#2c333d;--accent:#7fb0ff}}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
.mp{max-width:60rem;margin:0 auto;padding:1rem}
a{color:var(--accent)}
.mp-meta,.mp-note,.mp-foot,.mp-nav{color:var(--muted)}
.mp-cta{display:inline-block;padding:.5rem .9rem;border:1px solid var(--accent);border-radius:.4rem;text-decoration:none}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;overflow-x:auto;display:block}
th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:left;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.na{text-align:center;color:var(--muted)}
ul.mp-list{columns:2 18rem;padding-left:1.2rem}
"""


def models_index_page(models: list[dict[str, Any]], build_time: str) -> str:
    items = []
    for kind, title in (("text", "Text models"), ("multimodal", "Multimodal models")):
        group = [m for m in models if m.get("kind") == kind]
        if not group:
            continue
        lis = "".join(
            f'<li><a href="{esc(m["id"])}/">{esc(m.get("name") or m["id"])}</a> '
            f'<span class="mp-meta">{esc(fmt_params(m.get("params_total")))}</span></li>'
            for m in sorted(group, key=lambda m: str(m.get("name") or m["id"]).lower())
        )
        items.append(f'<h2>{esc(title)}</h2><ul class="mp-list">{lis}</ul>')
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GPU memory requirements by model — VRAM Insight</title>
<meta name="description" content="How much GPU memory each catalog LLM needs for inference, fine-tuning and training.">
<link rel="stylesheet" href="models.css">
<link rel="icon" href="../icons/icon.svg" type="image/svg+xml">
</head>
<body>
<main class="mp">
<p class="mp-nav"><a href="../">VRAM Insight</a> › Models</p>
<h1>GPU memory requirements by model</h1>
{chr(10).join(items)}
<p class="mp-foot">Built {esc(build_time)}.</p>
</main>
</body>
</html>
"""


def sitemap_xml(paths: list[str], site_url: str = "") -> str:
    base = site_url.rstrip("/") + "/" if site_url else ""
    urls = "".join(f"<url><loc>{esc(base + p)}</loc></url>\n" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{urls}</urlset>\n"
    )


def load_presets() -> list[dict[str, Any]]:
    """site/app/presets.json, put into the page so the preset list needs no request (the app fetches the file
    only when the page lacks it). tests/test_presets.py checks each preset against the engine."""
    path = SITE / "app" / "presets.json"
    try:
        presets = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError(f"site/app/presets.json cannot be read: {exc}") from None
    if not isinstance(presets, list) or not all(isinstance(p, dict) and "id" in p for p in presets):
        raise BuildError("site/app/presets.json must be a list of objects with an id")
    return presets


def prerender(ctx: BuildContext) -> None:
    web_api = load_engine()
    ctx.info = engine_result(web_api, "info", {})
    catalog = engine_result(web_api, "catalog", {})
    ctx.catalog = catalog
    report = engine_result(web_api, "report", DEFAULT_REQUEST)
    ctx.report = report
    src = SITE / "index.html"
    if not src.is_file():
        raise BuildError("site/index.html is missing")
    (ctx.out / "index.html").write_text(
        prerender_index(src.read_text(encoding="utf-8"), catalog, DEFAULT_REQUEST, report, load_presets()),
        encoding="utf-8",
    )
    models = list(catalog.get("models") or [])
    mdir = ctx.out / "models"
    mdir.mkdir(exist_ok=True)
    (mdir / "models.css").write_text(MODELS_CSS)
    for m in models:
        mid = str(m["id"])
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", mid):
            raise BuildError(f"catalog model id {mid!r} is not a safe path segment")
        (mdir / mid).mkdir(exist_ok=True)
        (mdir / mid / "index.html").write_text(model_page(web_api, m, ctx.build_time), encoding="utf-8")
    (mdir / "index.html").write_text(models_index_page(models, ctx.build_time), encoding="utf-8")
    pages = ["", CONSOLE_PATH, "models/", *(f"models/{m['id']}/" for m in models)]
    (ctx.out / "sitemap.xml").write_text(sitemap_xml(pages, ctx.site_url))
    (ctx.out / "robots.txt").write_text(
        "User-agent: *\nAllow: /\n"
        + (f"Sitemap: {ctx.site_url.rstrip('/')}/sitemap.xml\n" if ctx.site_url else "")
    )


# --- site files, PWA ------------------------------------------------------------------------------------------
RUNTIME_BLOCK = re.compile(r"/\*build:runtime\*/.*?/\*end:runtime\*/", re.S)


def runtime_config(wheels: list[WheelInfo]) -> dict[str, Any]:
    """What engine-client.js needs to boot: where Pyodide lives and which lock entries to load."""
    return {
        "pyodide": f"{PYODIDE_DIR}/",
        "pyodideVersion": PYODIDE_VERSION,
        "packages": sorted(canonical_name(w.name) for w in wheels),
        "wheels": sorted(w.file_name for w in wheels),
        "module": "vram_insight.web_api",
    }


CONSOLE_BLOCK = re.compile(r"/\*build:console\*/.*?/\*end:console\*/", re.S)


def console_runtime_config(wheels: list[WheelInfo]) -> dict[str, Any]:
    """What the engine console (site/console/console.js) needs: PyScript's folder, the Pyodide runtime folder and
    the lock entries its PyScript worker loads (site-relative)."""
    return {
        "pyscript": f"{PYSCRIPT_DIR}/",
        "pyodide": f"{PYODIDE_DIR}/",
        "packages": sorted(canonical_name(w.name) for w in wheels),
    }


def copy_site(ctx: BuildContext) -> None:
    """Copy site/ (minus the PWA templates; index.html is pre-rendered separately)."""
    if not SITE.is_dir():
        raise BuildError("site/ is missing")
    for src in sorted(SITE.rglob("*")):
        rel = src.relative_to(SITE)
        if src.is_dir() or rel.parts[0] == "pwa" or rel.as_posix() == "index.html":
            continue
        if src.name.startswith(".") or src.suffix in {".pyc", ".map"} or "__pycache__" in rel.parts:
            continue
        dst = ctx.out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.parts[0] == "engine" and src.suffix in {".js", ".mjs"}:
            text = src.read_text(encoding="utf-8")
            block = f"/*build:runtime*/{json.dumps(runtime_config(ctx.wheels))}/*end:runtime*/"
            text = RUNTIME_BLOCK.sub(lambda _m, b=block: b, text)
            dst.write_text(text, encoding="utf-8")
        elif (
            rel.parts[0] == CONSOLE_PATH.rstrip("/")
            and src.suffix == ".js"
            and "/*build:console*/" in (text := src.read_text(encoding="utf-8"))
        ):
            block = f"/*build:console*/{json.dumps(console_runtime_config(ctx.wheels))}/*end:console*/"
            dst.write_text(CONSOLE_BLOCK.sub(lambda _m, b=block: b, text), encoding="utf-8")
        else:
            shutil.copyfile(src, dst)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(width: int, height: int, pixels: Callable[[int, int], tuple[int, int, int, int]]) -> bytes:
    """A minimal RGBA PNG encoder (zlib + struct)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw.extend(pixels(x, y))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + png_chunk(b"IEND", b"")
    )


ICON_BG = (31, 95, 191)  # #1f5fbf, the app's theme colour
ICON_FG = (255, 255, 255)
# The mark on a 32-unit grid: a memory module outline with three cells filling up (opacity 1, .7, .4).
ICON_CELLS = ((8, 12, 4, 8, 1.0), (14, 12, 4, 8, 0.7), (20, 12, 4, 8, 0.4))


def icon_pixel_fn(size: int, maskable: bool) -> Callable[[int, int], tuple[int, int, int, int]]:
    # Maskable icons keep the mark inside the central 80 % safe zone and fill the whole square.
    scale = size / 32 * (0.8 if maskable else 1.0)
    off = size * 0.1 if maskable else 0.0
    radius = 0 if maskable else size * 0.18

    def inside_rounded(x: float, y: float) -> bool:
        if maskable:
            return True
        r = radius
        cx = min(max(x, r), size - r)
        cy = min(max(y, r), size - r)
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

    def px(x: int, y: int) -> tuple[int, int, int, int]:
        fx, fy = x + 0.5, y + 0.5
        if not inside_rounded(fx, fy):
            return (0, 0, 0, 0)
        u, v = (fx - off) / scale, (fy - off) / scale
        # module outline: rect (3,7)-(29,25), stroke 2.5
        in_outer = 3 <= u <= 29 and 7 <= v <= 25
        in_inner = 5.5 <= u <= 26.5 and 9.5 <= v <= 22.5
        alpha = 0.0
        if in_outer and not in_inner:
            alpha = 1.0
        for cx, cy, w, h, a in ICON_CELLS:
            if cx <= u <= cx + w and cy <= v <= cy + h:
                alpha = a
        r, g, b = (round(bg + (fg - bg) * alpha) for bg, fg in zip(ICON_BG, ICON_FG, strict=True))
        return (r, g, b, 255)

    return px


def icon_svg() -> str:
    cells = "".join(
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="1" fill="#fff" opacity="{a}"/>'
        for x, y, w, h, a in ICON_CELLS
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
        '<rect width="32" height="32" rx="5.8" fill="#1f5fbf"/>'
        '<rect x="4.25" y="8.25" width="23.5" height="15.5" rx="1.5" fill="none" stroke="#fff" stroke-width="2.5"/>'
        f"{cells}</svg>\n"
    )


def write_pwa(ctx: BuildContext) -> None:
    icons = ctx.out / "icons"
    icons.mkdir(exist_ok=True)
    (icons / "icon.svg").write_text(icon_svg())
    cache = CACHE / "icons"
    cache.mkdir(parents=True, exist_ok=True)
    key = sha256_bytes(repr((ICON_BG, ICON_FG, ICON_CELLS, 2)).encode())[:12]
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("maskable-512.png", 512, True),
        ("apple-touch-icon.png", 180, True),
    ):
        cached = cache / f"{key}-{name}"
        if not cached.is_file():
            cached.write_bytes(encode_png(size, size, icon_pixel_fn(size, maskable)))
        shutil.copyfile(cached, icons / name)
    manifest_src = SITE / "pwa" / "manifest.webmanifest"
    if not manifest_src.is_file():
        raise BuildError("site/pwa/manifest.webmanifest is missing")
    try:
        manifest = json.loads(manifest_src.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BuildError(f"site/pwa/manifest.webmanifest is not valid JSON: {exc}") from None
    (ctx.out / "manifest.webmanifest").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def precache_paths(
    files: Iterable[str], skip_dirs: Iterable[str] = (), keep: Iterable[str] = ()
) -> list[str]:
    """Site-relative paths the service worker precaches: the app shell, the runtime and the wheels, and the engine
    console (its page, as ``console/``, and its scripts), so that the console opens offline even if it was never
    visited online.

    Not precached: the service worker itself, precompressed variants, health.json (always fresh), the static
    model pages and SEO files (pages other than the app and the console are cached at runtime when visited), the
    pages under their file names (precached as ``./`` and ``console/``) and ``skip_dirs`` (vendored runtimes the
    app does not use) except the files listed in ``keep`` (the part of PyScript the console loads).
    """
    skip = tuple(d.rstrip("/") + "/" for d in skip_dirs)
    wanted = set(keep)
    all_files = set(files)
    paths = []
    for f in sorted(all_files):
        p = PurePosixPath(f)
        if f in {
            "sw.js",
            "health.json",
            "sitemap.xml",
            "robots.txt",
            "index.html",
            f"{CONSOLE_PATH}index.html",
        }:
            continue
        if p.suffix in {".br", ".gz", ".map"} or p.parts[0] == "models":
            continue
        if f.startswith(skip) and f not in wanted:
            continue
        paths.append(f)
    pages = ["./"]
    if f"{CONSOLE_PATH}index.html" in all_files:
        pages.append(CONSOLE_PATH)
    return [*pages, *paths]


def precache_file(out: Path, path: str) -> Path:
    """The file behind a precached path (a page is precached under its folder's URL: ``./``, ``console/``)."""
    if path == "./":
        return out / "index.html"
    return out / path / "index.html" if path.endswith("/") else out / path


# PyScript chunks the engine console loads besides core.js and its static imports, by name (before the content
# hash): the error plugin (imported even when the page's config disables it, to switch it off) and, in the worker,
# the package graph PyScript checks `packages` against. The page's <py-config>/<mpy-config> disable every other
# plugin; e2e/test_console.py checks that every file the console requests is precached.
CONSOLE_PYSCRIPT_CHUNKS = ("error", "pyodide_graph")
JS_STATIC_IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*["'](\./[\w.-]+\.js)["']""")
JS_DYNAMIC_IMPORT = re.compile(r"""\bimport\s*\(\s*["'](\./[\w.-]+\.js)["']\s*\)""")


def pyscript_console_files(pyscript_dir: Path, chunks: Iterable[str] = CONSOLE_PYSCRIPT_CHUNKS) -> list[str]:
    """The files of a vendored PyScript ``dist/`` that the engine console loads, relative to ``pyscript_dir``:
    core.js, every module it imports statically (transitively), and the ``chunks`` it imports dynamically (matched
    by name, ``error`` for ``error-D2315lOB.js``) with their static imports."""
    names = tuple(chunks)
    chunk_re = re.compile(rf"^(?:{'|'.join(re.escape(n) for n in names)})-[\w-]{{8}}\.js$") if names else None
    seen: list[str] = []
    todo = ["core.js"]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        path = pyscript_dir / name
        if not path.is_file():
            raise BuildError(
                f"{pyscript_dir.name}/{name} is missing (imported by the engine console's PyScript)"
            )
        seen.append(name)
        text = path.read_text(encoding="utf-8", errors="replace")
        todo += [m[2:] for m in JS_STATIC_IMPORT.findall(text)]
        todo += [
            m[2:]
            for m in JS_DYNAMIC_IMPORT.findall(text)
            if chunk_re is not None and chunk_re.match(m[2:]) and (pyscript_dir / m[2:]).is_file()
        ]
    return sorted(seen)


def console_precache(out: Path) -> list[str]:
    """Site-relative paths of the vendored files only the engine console needs (none without a console page)."""
    if not (out / CONSOLE_PATH / "index.html").is_file():
        return []
    return [f"{PYSCRIPT_DIR}/{name}" for name in pyscript_console_files(out / PYSCRIPT_DIR)]


def unused_vendor_dirs(out: Path) -> list[str]:
    """PyScript / MicroPython folders that no page or app script references (they are shipped for an optional
    ``<script type="mpy">`` but not precached unless used)."""
    texts = []
    for pattern in ("*.html", "app/**/*.js", "app/**/*.mjs", "engine/**/*.js", "engine/**/*.mjs"):
        texts += [f.read_text(encoding="utf-8", errors="replace") for f in out.glob(pattern) if f.is_file()]
    blob = "\n".join(texts)
    return [d for d in (PYSCRIPT_DIR, MICROPYTHON_DIR) if d not in blob]


def cache_version(entries: Iterable[tuple[str, str]]) -> str:
    """Cache name suffix from (path, sha256) pairs: changes whenever any precached byte changes."""
    h = hashlib.sha256()
    for path, digest in sorted(entries):
        h.update(f"{path}\0{digest}\n".encode())
    return h.hexdigest()[:16]


def render_service_worker(template: str, version: str, precache: list[str]) -> str:
    for token in ("__CACHE_VERSION__", "__PRECACHE__"):
        if token not in template:
            raise BuildError(f"site/pwa/sw.template.js lacks the {token} placeholder")
    return template.replace("__CACHE_VERSION__", version).replace(
        "__PRECACHE__", json.dumps(precache, indent=1)
    )


BUILD_META = re.compile(r'<meta name="vram-build" content="[^"]*">')


def stamp_build_id(html: str, build_id: str) -> str:
    """Write the build id (the service worker's cache version) into the app page's ``<meta name="vram-build">``,
    so the page can check that the service worker controlling it serves the same build (site/app/sw-update.js).
    The precache hash is taken before stamping: the id is a function of everything else, so it stays unique."""
    if not re.fullmatch(r"[\w.-]+", build_id):
        raise BuildError(f"unusable build id {build_id!r}")
    stamped, n = BUILD_META.subn(f'<meta name="vram-build" content="{build_id}">', html, count=1)
    if n != 1:
        raise BuildError('site/index.html lacks <meta name="vram-build" content="dev">')
    return stamped


def list_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def write_service_worker(ctx: BuildContext) -> tuple[list[str], str]:
    files = list_files(ctx.out)
    skipped = unused_vendor_dirs(ctx.out)
    console_files = console_precache(ctx.out)
    if skipped:
        but = (
            f" (but the {len(console_files)} PyScript files the engine console loads)"
            if console_files
            else ""
        )
        ctx.notes.append(f"not precached (unreferenced): {', '.join(skipped)}{but}")
    precache = precache_paths(files, skipped, keep=console_files)
    entries = [(p, sha256_file(precache_file(ctx.out, p))) for p in precache]
    version = cache_version(entries)
    template = (SITE / "pwa" / "sw.template.js").read_text(encoding="utf-8")
    (ctx.out / "sw.js").write_text(render_service_worker(template, version, precache), encoding="utf-8")
    index = ctx.out / "index.html"
    index.write_text(stamp_build_id(index.read_text(encoding="utf-8"), version), encoding="utf-8")
    return precache, version


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


CATALOG_COUNTS = ("models", "text_models", "multimodal_models", "gpus")


def health_document(ctx: BuildContext, cache_name: str, file_count: int) -> dict[str, Any]:
    """What a probe and a person need to know about a deployed build (``health.json``): the app version, when it was
    built, exactly which engine wheel the browser runs (file name + sha256 of the shipped bytes, as in the lock) and
    how large the catalog is. Raises BuildError when the engine wheel or a catalog count is missing."""
    ours = [w for w in ctx.wheels if canonical_name(w.name) == canonical_name(OUR_WHEEL_PREFIX.rstrip("-"))]
    if len(ours) != 1 or not ours[0].sha256:
        raise BuildError(
            f"health.json: expected one hashed engine wheel among the shipped wheels, found {len(ours)}"
        )
    catalog = ctx.info.get("catalog") or {}
    missing = [k for k in CATALOG_COUNTS if not isinstance(catalog.get(k), int)]
    if missing:
        raise BuildError(
            f"health.json: the engine's info reply has no catalog count for {', '.join(missing)}"
        )
    return {
        "status": "ok",
        "version": project_version(),
        "build_time": ctx.build_time,
        "engine": {
            "version": ctx.info.get("engine_version"),
            "wheel": ours[0].file_name,
            "sha256": ours[0].sha256,
        },
        "catalog": {k: catalog[k] for k in CATALOG_COUNTS},
        "runtime": {"pyodide": PYODIDE_VERSION, "pyscript": PYSCRIPT_VERSION, "python": "3.14"},
        "wheels": {canonical_name(w.name): w.version for w in ctx.wheels},
        "cache": cache_name,
        "file_count": file_count,
    }


def write_health(ctx: BuildContext, cache_name: str) -> None:
    files = list_files(ctx.out)
    count = len([f for f in files if not f.endswith((".br", ".gz"))]) + 1  # + health.json itself
    health = health_document(ctx, cache_name, count)
    (ctx.out / "health.json").write_text(json.dumps(health, indent=1) + "\n")


def precompress(ctx: BuildContext) -> dict[str, int]:
    """Write .br/.gz next to every compressible file when smaller; returns totals."""
    comp = ctx.comp
    assert comp is not None
    totals = {"files": 0, "raw": 0, "br": 0, "gz": 0}
    for rel in list_files(ctx.out):
        path = ctx.out / rel
        if path.suffix in {".br", ".gz"}:
            continue
        data = path.read_bytes()
        totals["files"] += 1
        totals["raw"] += len(data)
        best_br, best_gz = len(data), len(data)
        if path.suffix.lower() in COMPRESSIBLE and len(data) >= MIN_COMPRESS_BYTES:
            mtime = path.stat().st_mtime
            gz = comp.gz(data)
            if len(gz) < len(data) * 0.95:
                (path.parent / (path.name + ".gz")).write_bytes(gz)
                os.utime(path.parent / (path.name + ".gz"), (mtime, mtime))
                best_gz = len(gz)
            br = comp.br(data)
            if br is not None and len(br) < len(data) * 0.95:
                (path.parent / (path.name + ".br")).write_bytes(br)
                os.utime(path.parent / (path.name + ".br"), (mtime, mtime))
                best_br = len(br)
            else:
                best_br = best_gz
        totals["br"] += best_br
        totals["gz"] += best_gz
    return totals


def transfer_sizes(out: Path, paths: Iterable[str]) -> tuple[int, int]:
    """(raw, best-encoded) bytes of ``paths`` as served (a page path such as ``./`` is its index.html)."""
    raw = enc = 0
    for p in paths:
        f = precache_file(out, p)
        size = f.stat().st_size
        raw += size
        variants = [size] + [
            (f.parent / (f.name + ext)).stat().st_size
            for ext in (".br", ".gz")
            if (f.parent / (f.name + ext)).is_file()
        ]
        enc += min(variants)
    return raw, enc


def build(
    out: Path,
    *,
    precompress_assets: bool = True,
    site_url: str = "",
    pycompile_sources: bool = True,
    smoke: bool = True,
    full_stdlib: bool = False,
    minify: bool = True,
) -> dict[str, Any]:
    ctx = BuildContext(
        out=out,
        precompress=precompress_assets,
        site_url=site_url,
        trim_stdlib=not full_stdlib,
        minify=minify,
    )
    if out.resolve() in (ROOT, SITE.resolve()) or ROOT.resolve().is_relative_to(out.resolve()):
        raise BuildError(f"refusing to use {out} as the output folder")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    brotli = ensure_host_module("brotli", HOST_BROTLI, required=False) if precompress_assets else None
    ctx.comp = Compressor(CACHE / "compressed", brotli)
    modules = npm_install()
    base_lock = vendor_runtime(ctx, modules)
    wheel_paths = [*fetch_pinned_wheels(), build_own_wheel()]
    ship_wheels(ctx, base_lock, wheel_paths, modules if pycompile_sources else None)
    log("pre-rendering with the engine (CPython)")
    prerender(ctx)
    if smoke:
        log("smoke test: the shipped runtime and wheels under Node")
        check_smoke(ctx)
    copy_site(ctx)
    write_pwa(ctx)
    precache, cache_name = write_service_worker(ctx)
    write_health(ctx, cache_name)
    totals: dict[str, int] = {}
    if precompress_assets:
        log("precompressing" + (" (brotli + gzip)" if brotli else " (gzip only: brotli unavailable)"))
        totals = precompress(ctx)
    files = [f for f in list_files(out) if not f.endswith((".br", ".gz"))]
    first_raw, first_enc = transfer_sizes(out, precache)
    summary = {
        "out": str(out),
        "files": len(files),
        "bytes_raw": sum((out / f).stat().st_size for f in files),
        "bytes_br": totals.get("br"),
        "precache_files": len(precache),
        "first_visit_raw": first_raw,
        "first_visit_encoded": first_enc,
        "cache": cache_name,
        "models": len(ctx.catalog.get("models") or []),
        "seconds": round(time.time() - ctx.started, 1),
        "notes": ctx.notes,
    }
    return summary


# === local server ==================================================================================================
def accepted_encodings(header: str | None) -> set[str]:
    """Codings the client accepts (q > 0), lower-case."""
    accepted: set[str] = set()
    for part in (header or "").split(","):
        token, _, params = part.strip().partition(";")
        token = token.strip().lower()
        if not token:
            continue
        q = 1.0
        m = re.search(r"q\s*=\s*([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if q > 0:
            accepted.add(token)
    if "*" in accepted:
        accepted |= {"br", "gzip"}
    return accepted


class SiteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "vram-insight-dev"
    root: Path = Path(".")
    quiet = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _send_plain(self, status: HTTPStatus, text: str, extra: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        url_path = unquote(urlsplit(self.path).path)
        root = self.root.resolve()
        target = (root / url_path.lstrip("/")).resolve()
        if not target.is_relative_to(root):
            self._send_plain(HTTPStatus.FORBIDDEN, "forbidden\n")
            return
        if target.is_dir():
            if not url_path.endswith("/"):
                self._send_plain(HTTPStatus.MOVED_PERMANENTLY, "moved\n", {"Location": url_path + "/"})
                return
            target = target / "index.html"
        if not target.is_file() or target.suffix in {".br", ".gz"}:
            self._send_plain(HTTPStatus.NOT_FOUND, "not found\n")
            return
        rel = target.relative_to(root).as_posix()
        accepted = accepted_encodings(self.headers.get("Accept-Encoding"))
        served, encoding = target, None
        for coding, ext in (("br", ".br"), ("gzip", ".gz")):
            variant = target.parent / (target.name + ext)
            if coding in accepted and variant.is_file():
                served, encoding = variant, coding
                break
        has_variants = any((target.parent / (target.name + e)).is_file() for e in (".br", ".gz"))
        stat = served.stat()
        mtime = int(stat.st_mtime)
        headers = {
            "Content-Type": mime_type(rel),
            "Cache-Control": cache_control(rel),
            "Last-Modified": formatdate(mtime, usegmt=True),
            **security_headers(rel),
        }
        if has_variants:
            headers["Vary"] = "Accept-Encoding"
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                if int(parsedate_to_datetime(ims).timestamp()) >= mtime:
                    self.send_response(HTTPStatus.NOT_MODIFIED)
                    for k in ("Cache-Control", "Last-Modified", "Vary"):
                        if k in headers:
                            self.send_header(k, headers[k])
                    self.end_headers()
                    return
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
        self.send_response(HTTPStatus.OK)
        for k, v in headers.items():
            self.send_header(k, v)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(stat.st_size))
        self.end_headers()
        if head:
            return
        try:
            with served.open("rb") as fh:
                shutil.copyfileobj(fh, self.wfile, 1 << 16)
        except (BrokenPipeError, ConnectionResetError):
            pass


def make_server(root: Path, port: int, host: str = "127.0.0.1", quiet: bool = True) -> ThreadingHTTPServer:
    handler = type("Handler", (SiteHandler,), {"root": root, "quiet": quiet})
    ThreadingHTTPServer.daemon_threads = True
    return ThreadingHTTPServer((host, port), handler)


def serve(root: Path, port: int, host: str = "127.0.0.1") -> None:
    if not (root / "index.html").is_file():
        raise BuildError(f"{root} has no index.html: build first (python build.py --out {root})")
    try:
        httpd = make_server(root, port, host, quiet=False)
    except OSError as exc:
        raise BuildError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (try --port <other> or --port 0)"
        ) from None
    print(f"Serving {root} at http://{host}:{httpd.server_address[1]}/  (Ctrl+C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        httpd.server_close()


def human(n: int | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 1e6:.2f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build (and optionally serve) the VRAM Insight static site.")
    ap.add_argument("--out", default="_site", help="output folder (default: _site)")
    ap.add_argument("--no-precompress", action="store_true", help="skip .br/.gz variants and zip repacking")
    ap.add_argument(
        "--no-pycompile",
        action="store_true",
        help="ship .py sources (skip compiling them to .pyc under node)",
    )
    ap.add_argument(
        "--no-smoke", action="store_true", help="skip booting the shipped engine under node after the build"
    )
    ap.add_argument(
        "--full-stdlib",
        action="store_true",
        help="ship the whole stdlib and complete wheels (no STDLIB_DROP / WHEEL_DROP trimming)",
    )
    ap.add_argument(
        "--no-minify",
        action="store_true",
        help="ship the modules that are not precompiled with their docstrings and comments",
    )
    ap.add_argument("--serve", action="store_true", help="serve the output on localhost after building")
    ap.add_argument(
        "--serve-only", action="store_true", help="serve an existing output folder without building"
    )
    ap.add_argument("--port", type=int, default=8000, help="port for --serve (default 8000; 0 picks one)")
    ap.add_argument("--host", default="127.0.0.1", help="address for --serve (default 127.0.0.1)")
    ap.add_argument(
        "--site-url",
        default=os.environ.get("SITE_URL", ""),
        help="absolute site URL for sitemap.xml/robots.txt (default: relative URLs)",
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    if not out.is_absolute():
        out = Path.cwd() / out
    try:
        if not args.serve_only:
            s = build(
                out,
                precompress_assets=not args.no_precompress,
                site_url=args.site_url,
                pycompile_sources=not args.no_pycompile,
                smoke=not args.no_smoke,
                full_stdlib=args.full_stdlib,
                minify=not args.no_minify,
            )
            print(
                f"[build] done in {s['seconds']} s: {s['files']} files, {human(s['bytes_raw'])} raw, "
                f"{human(s['bytes_br'])} br; first visit (precache, {s['precache_files']} files) "
                f"{human(s['first_visit_raw'])} raw / {human(s['first_visit_encoded'])} encoded; "
                f"{s['models']} model pages -> {out}",
                flush=True,
            )
            for note in s["notes"]:
                print(f"[build]   {note}", flush=True)
        if args.serve or args.serve_only:
            serve(out, args.port, args.host)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
