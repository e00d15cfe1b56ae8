"""Fast tests of build.py's pure helpers and the local server (no network, no npm, no engine needed)."""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import io
import json
import re
import sys
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402


# --- helpers ---------------------------------------------------------------------------------------------------
def make_wheel(path: Path, name: str, version: str, requires: list[str], files: dict[str, str]) -> Path:
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for fname, text in files.items():
            zf.writestr(fname, text)
        zf.writestr(f"{dist}/METADATA", "\n".join(meta) + "\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\n")
        zf.writestr(f"{dist}/RECORD", "")
    return path


def wheel_info(path: Path) -> build.WheelInfo:
    info = build.read_wheel(path)
    info.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return info


BASE_LOCK = {
    "info": {"abi_version": "2026_0", "arch": "wasm32", "python": "3.14.2"},
    "packages": {"numpy": {}},
}


# --- lock generation -------------------------------------------------------------------------------------------
def test_lock_lists_exactly_the_shipped_wheels(tmp_path: Path) -> None:
    core = make_wheel(
        tmp_path / "pydantic_core-2.0-cp314-cp314-x.whl",
        "pydantic_core",
        "2.0",
        ["typing-extensions>=4"],
        {"pydantic_core/__init__.py": "", "pydantic_core/_c.so": ""},
    )
    pyd = make_wheel(
        tmp_path / "pydantic-2.1-py3-none-any.whl",
        "pydantic",
        "2.1",
        [
            "pydantic-core==2.0",
            "typing_extensions>=4",
            "email-validator>=2; extra == 'email'",
            "tzdata; (platform_system == 'Windows') and extra == 'timezone'",
            "colorama; sys_platform == 'win32'",
        ],
        {"pydantic/__init__.py": "", "pydantic/v1/__init__.py": ""},
    )
    te = make_wheel(
        tmp_path / "typing_extensions-4.0-py3-none-any.whl",
        "typing_extensions",
        "4.0",
        [],
        {"typing_extensions.py": ""},
    )
    ours = make_wheel(
        tmp_path / "vram_insight-0.1.0-py3-none-any.whl",
        "vram-insight",
        "0.1.0",
        ["pydantic<3,>=2.7"],
        {"vram_insight/__init__.py": "", "vram_insight/data/gpus.json": "{}"},
    )
    wheels = [wheel_info(p) for p in (core, pyd, te, ours)]
    lock = build.build_lock(BASE_LOCK, wheels)

    assert lock["info"] == BASE_LOCK["info"]
    assert set(lock["packages"]) == {"pydantic-core", "pydantic", "typing-extensions", "vram-insight"}
    p = lock["packages"]["pydantic"]
    assert p["depends"] == ["pydantic-core", "typing-extensions"]  # extras and unmet markers dropped
    assert p["file_name"] == "pydantic-2.1-py3-none-any.whl"
    assert p["imports"] == ["pydantic"]
    assert p["install_dir"] == "site"
    assert p["sha256"] == hashlib.sha256(pyd.read_bytes()).hexdigest()
    assert lock["packages"]["typing-extensions"]["imports"] == ["typing_extensions"]
    assert lock["packages"]["pydantic-core"]["name"] == "pydantic_core"
    assert lock["packages"]["vram-insight"]["depends"] == ["pydantic"]
    assert lock["packages"]["vram-insight"]["imports"] == ["vram_insight"]
    assert "numpy" not in lock["packages"]  # nothing from Pyodide's own lock leaks in
    json.dumps(lock)


def test_lock_rejects_an_unshipped_requirement(tmp_path: Path) -> None:
    w = make_wheel(tmp_path / "a-1.0-py3-none-any.whl", "a", "1.0", ["missing-dep>=1"], {"a/__init__.py": ""})
    with pytest.raises(build.BuildError, match="missing-dep"):
        build.build_lock(BASE_LOCK, [wheel_info(w)])


def test_lock_needs_hashes_and_info(tmp_path: Path) -> None:
    w = build.read_wheel(make_wheel(tmp_path / "a-1.0-py3-none-any.whl", "a", "1.0", [], {"a.py": ""}))
    with pytest.raises(build.BuildError, match="sha256"):
        build.build_lock(BASE_LOCK, [w])
    w.sha256 = "0" * 64
    with pytest.raises(build.BuildError, match="info"):
        build.build_lock({"packages": {}}, [w])


def test_wheel_top_level_names() -> None:
    names = [
        "a/__init__.py",
        "a/b/c.py",
        "mod.py",
        "ext.cpython-314-wasm32-emscripten.so",
        "x-1.dist-info/RECORD",
        "x-1.data/scripts/tool",
        "stubs_only/py.typed",
        "not-a-name/file.py",
    ]
    assert build.wheel_top_level(names) == ["a", "ext", "mod", "stubs_only"]


def test_canonical_name() -> None:
    assert build.canonical_name("Typing_Extensions") == "typing-extensions"
    assert build.canonical_name("a.b__c") == "a-b-c"


def test_not_a_wheel(tmp_path: Path) -> None:
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(build.BuildError, match="not a valid zip"):
        build.read_wheel(bad)


def test_repack_stored_keeps_contents(tmp_path: Path) -> None:
    files = {"a/z.py": "x = 1\n" * 100, "a/__init__.pyc": "c", "a/data.json": "{}", "a/b.py": "y = 2\n"}
    src = make_wheel(tmp_path / "a-1.0-py3-none-any.whl", "a", "1.0", [], files)
    stored = build.repack_stored(src.read_bytes())
    with zipfile.ZipFile(io.BytesIO(stored)) as zs, zipfile.ZipFile(src) as zo:
        assert sorted(zs.namelist()) == sorted(zo.namelist())
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zs.infolist())
        assert all(zs.read(n) == zo.read(n) for n in zo.namelist())
        # grouped by type (brotli compresses like files better side by side), .dist-info last
        assert zs.namelist()[:4] == ["a/data.json", "a/b.py", "a/z.py", "a/__init__.pyc"]
        assert all(".dist-info/" in n for n in zs.namelist()[4:])


def test_trim_wheel_drops_members_and_fixes_record(tmp_path: Path) -> None:
    files = {
        "pydantic/__init__.py": "x = 1\n",
        "pydantic/v1/__init__.py": "old = 1\n",
        "pydantic/mypy.py": "plugin = 1\n",
        "pydantic/_c.pyi": "def f() -> int: ...\n",
        "pydantic-2.0.dist-info/licenses/LICENSE": "MIT\n",
        "pydantic-2.0.dist-info/sboms/x.json": "{}",
    }
    src = make_wheel(
        tmp_path / "pydantic-2.0-py3-none-any.whl", "pydantic", "2.0", ["typing-extensions"], files
    )
    # a real RECORD and a long description
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["pydantic-2.0.dist-info/METADATA"] += b"\n# Changelog\n" + b"lots of text\n" * 1000
    members["pydantic-2.0.dist-info/RECORD"] = (
        "".join(f"{n},sha256=old,1\n" for n in members if not n.endswith("RECORD")).encode()
        + b"pydantic-2.0.dist-info/RECORD,,\n"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    data, removed = build.trim_wheel(buf.getvalue())
    assert removed == 4
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = set(zf.namelist())
    assert "pydantic/__init__.py" in names and "pydantic-2.0.dist-info/licenses/LICENSE" in names
    assert not any(n.startswith(("pydantic/v1/", "pydantic/mypy")) or n.endswith(".pyi") for n in names)
    meta = zf.read("pydantic-2.0.dist-info/METADATA").decode()
    assert "Changelog" not in meta and "Requires-Dist: typing-extensions" in meta
    rows = zf.read("pydantic-2.0.dist-info/RECORD").decode().splitlines()
    listed = {r.split(",")[0]: r for r in rows}
    assert set(listed) == names
    init = zf.read("pydantic/__init__.py")
    assert listed["pydantic/__init__.py"] == f"pydantic/__init__.py,{build.record_hash(init)},{len(init)}"
    assert listed["pydantic-2.0.dist-info/RECORD"] == "pydantic-2.0.dist-info/RECORD,,"


def test_minify_round_trips_and_drops_docstrings() -> None:
    ns: dict = {}
    exec(build.PYCOMPILE_PY, ns)
    src = (
        b'"""Module doc."""\n# a comment\nimport os  # trailing\n\n\nclass A:\n    """Class doc."""\n\n'
        b'    def f(self, x=\'s\'):\n        """Only a docstring."""\n\n    def g(self):\n'
        b'        return f"{os.sep!r:>3}"  # note\n'
    )
    out = ns["_minify"](src, "m.py")
    assert out is not None and b"doc" not in out and b"#" not in out
    scope: dict = {}
    exec(compile(out, "m.py", "exec"), scope)
    assert scope["A"].__doc__ is None and scope["A"]().f() is None and scope["A"]().g() == f"{'/'!r:>3}"


# --- sha256 verification ---------------------------------------------------------------------------------------
def test_trim_stdlib(tmp_path: Path) -> None:
    buf = io.BytesIO()
    keep = ["json/__init__.py", "encodings/utf_8.py", "encodings/cp437.py", "typing.py", "email/__init__.py"]
    keep += ["logging/__init__.py", "ctypes/_layout.py", "_pylong.py", "stringprep.py", "json/decoder.py"]
    drop = ["unittest/case.py", "pdb.py", "encodings/cp1251.py", "encodings/big5.py", "xml/dom/minidom.py"]
    drop += [
        "optparse.py",
        "logging/handlers.py",
        "tomllib/_parser.py",
        "json/tool.py",
        "asyncio/__main__.py",
    ]
    with zipfile.ZipFile(buf, "w") as zf:
        for n in keep + drop:
            zf.writestr(n, "x = 1\n")
    data, removed = build.trim_stdlib(buf.getvalue())
    assert removed == len(drop)
    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == sorted(keep)


def test_first_difference() -> None:
    assert build.first_difference({"a": [1, 2.0]}, {"a": [1, 2]}) is None  # one JSON number type
    assert build.first_difference({"a": [1, 2]}, {"a": [1, 3]}) == "/a/1: 2 != 3"
    assert "only on one side" in build.first_difference({"a": 1}, {"b": 1})


def test_verify_sha256_mismatch_message(tmp_path: Path) -> None:
    f = tmp_path / "pydantic-2.14.4-py3-none-any.whl"
    f.write_bytes(b"tampered")
    expected = "a" * 64
    with pytest.raises(build.BuildError) as exc:
        build.verify_sha256(f, expected)
    msg = str(exc.value)
    assert "sha256 mismatch for pydantic-2.14.4-py3-none-any.whl" in msg
    assert expected in msg
    assert hashlib.sha256(b"tampered").hexdigest() in msg
    assert ".cache/build/wheels" in msg


def test_verify_sha256_missing_and_ok(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match="missing"):
        build.verify_sha256(tmp_path / "nope.whl", "0" * 64)
    f = tmp_path / "ok.whl"
    f.write_bytes(b"ok")
    build.verify_sha256(f, hashlib.sha256(b"ok").hexdigest())


def test_pinned_wheels_are_well_formed() -> None:
    names = set()
    for w in build.PINNED_WHEELS:
        assert re.fullmatch(r"[0-9a-f]{64}", w.sha256), w
        assert w.file_name.endswith(".whl") and w.version in w.file_name
        names.add(build.canonical_name(w.name))
    assert {"pydantic", "pydantic-core", "typing-extensions", "typing-inspection", "annotated-types"} <= names
    core = next(w for w in build.PINNED_WHEELS if w.name == "pydantic-core")
    assert core.file_name.endswith(f"cp314-cp314-{build.PYEMSCRIPTEN_PLATFORM}.whl")


# --- precache list and versioning ------------------------------------------------------------------------------
FILES = [
    "index.html",
    "index.html.br",
    "sw.js",
    "health.json",
    "sitemap.xml",
    "robots.txt",
    "manifest.webmanifest",
    "app/main.js",
    "app/main.js.gz",
    "engine/engine-client.js",
    "icons/icon-192.png",
    "models/index.html",
    "models/llama/index.html",
    "models/models.css",
    "vendor/pyodide-314.0.7/pyodide.asm.wasm",
    "vendor/pyodide-314.0.7/pyodide-lock.json",
    "vendor/pyodide-314.0.7/vram_insight-0.1.0-py3-none-any.whl",
]


def test_precache_paths() -> None:
    pre = build.precache_paths(FILES)
    assert pre[0] == "./"
    for must in (
        "app/main.js",
        "engine/engine-client.js",
        "manifest.webmanifest",
        "icons/icon-192.png",
        "vendor/pyodide-314.0.7/pyodide.asm.wasm",
        "vendor/pyodide-314.0.7/pyodide-lock.json",
        "vendor/pyodide-314.0.7/vram_insight-0.1.0-py3-none-any.whl",
    ):
        assert must in pre
    for never in (
        "sw.js",
        "health.json",
        "index.html",
        "index.html.br",
        "app/main.js.gz",
        "models/index.html",
        "models/llama/index.html",
        "sitemap.xml",
    ):
        assert never not in pre
    assert len(pre) == len(set(pre))
    assert "console/" not in pre  # no console page in FILES
    files = [*FILES, "vendor/pyscript-0.7.31/core.js", "vendor/micropython-1.28.0-6/micropython.wasm"]
    assert "vendor/pyscript-0.7.31/core.js" in build.precache_paths(files)
    skipped = build.precache_paths(files, ["vendor/pyscript-0.7.31", "vendor/micropython-1.28.0-6/"])
    assert not any("pyscript" in p or "micropython" in p for p in skipped)
    assert "vendor/pyodide-314.0.7/pyodide.asm.wasm" in skipped


def test_unused_vendor_dirs(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "index.html").write_text('<script type="module" src="app/main.js"></script>')
    (tmp_path / "app" / "main.js").write_text("export {};")
    assert build.unused_vendor_dirs(tmp_path) == [build.PYSCRIPT_DIR, build.MICROPYTHON_DIR]
    (tmp_path / "index.html").write_text(
        f'<script type="module" src="{build.PYSCRIPT_DIR}/core.js"></script>'
    )
    assert build.unused_vendor_dirs(tmp_path) == [build.MICROPYTHON_DIR]


def test_cache_version_tracks_content() -> None:
    a = [("./", "1" * 64), ("app/main.js", "2" * 64)]
    v1 = build.cache_version(a)
    assert v1 == build.cache_version(list(reversed(a)))  # order-independent
    assert v1 != build.cache_version([("./", "1" * 64), ("app/main.js", "3" * 64)])
    assert v1 != build.cache_version([*a, ("x.js", "4" * 64)])
    assert re.fullmatch(r"[0-9a-f]{16}", v1)


def test_service_worker_template_renders() -> None:
    template = (ROOT / "site" / "pwa" / "sw.template.js").read_text()
    sw = build.render_service_worker(template, "abc123", ["./", "app/main.js"])
    assert "__CACHE_VERSION__" not in sw and "__PRECACHE__" not in sw
    assert '"abc123"' in sw
    m = re.search(r"const PRECACHE = (\[.*?\]);", sw, re.S)
    assert m and json.loads(m.group(1)) == ["./", "app/main.js"]
    assert "url.origin !== self.location.origin" in sw  # never handles cross-origin requests
    with pytest.raises(build.BuildError, match="__PRECACHE__"):
        build.render_service_worker("const VERSION = '__CACHE_VERSION__';", "x", [])


def test_service_worker_waits_for_the_user_and_answers_its_version() -> None:
    """A new version must not take over open pages by itself (that mixed old pages with new files): it waits
    until the page sends SKIP_WAITING, and tells pages which build it serves."""
    sw = (ROOT / "site" / "pwa" / "sw.template.js").read_text()
    code = re.sub(r"/\*.*?\*/", "", sw, flags=re.S)  # comments may mention it
    assert code.count("skipWaiting()") == 1
    assert re.search(r'type === "SKIP_WAITING"\) self\.skipWaiting\(\)', code)
    assert 'type === "VERSION"' in code


def test_build_id_is_stamped_into_the_app_page() -> None:
    page = (ROOT / "site" / "index.html").read_text()
    assert '<meta name="vram-build" content="dev">' in page
    stamped = build.stamp_build_id(page, "0123456789abcdef")
    assert '<meta name="vram-build" content="0123456789abcdef">' in stamped
    assert stamped.replace("0123456789abcdef", "dev") == page  # nothing else changes
    with pytest.raises(build.BuildError, match="vram-build"):
        build.stamp_build_id("<html></html>", "abc")
    with pytest.raises(build.BuildError, match="unusable"):
        build.stamp_build_id(page, '"><script>')


def test_engine_client_has_runtime_block() -> None:
    src = (ROOT / "site" / "engine" / "engine-client.js").read_text()
    assert len(build.RUNTIME_BLOCK.findall(src)) == 1
    cfg = build.runtime_config([])
    assert cfg["pyodide"] == f"{build.PYODIDE_DIR}/"
    assert not cfg["pyodide"].startswith("/")  # relative: works under any sub-path


# --- MIME types and cache policy -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("a/core.js", "application/javascript"),
        ("pyodide.mjs", "application/javascript"),
        ("pyodide.asm.wasm", "application/wasm"),
        ("x.json", "application/json"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("a-1.0-py3-none-any.whl", "application/octet-stream"),
        ("python_stdlib.zip", "application/octet-stream"),
        ("index.html", "text/html"),
        ("styles.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
        ("icon.png", "image/png"),
        ("unknown.bin", "application/octet-stream"),
    ],
)
def test_mime_types(path: str, mime: str) -> None:
    assert build.mime_type(path).split(";")[0] == mime


def test_cache_control() -> None:
    imm, reval = build.CACHE_IMMUTABLE, build.CACHE_REVALIDATE
    assert build.cache_control("vendor/pyodide-314.0.7/pyodide.asm.wasm") == imm
    assert build.cache_control("/vendor/pyscript-0.7.31/core-C9KDLldu.js") == imm
    assert build.cache_control("vendor/pyodide-314.0.7/pydantic-2.14.4-py3-none-any.whl") == imm
    assert build.cache_control("vendor/pyodide-314.0.7/pyodide-lock.json") == reval
    assert build.cache_control("vendor/pyodide-314.0.7/vram_insight-0.1.0-py3-none-any.whl") == reval
    for p in (
        "index.html",
        "sw.js",
        "health.json",
        "app/main.js",
        "engine/engine-client.js",
        "models/x/index.html",
    ):
        assert build.cache_control(p) == reval


def test_accepted_encodings() -> None:
    assert build.accepted_encodings("gzip, deflate, br, zstd") >= {"gzip", "br"}
    assert build.accepted_encodings("gzip;q=1.0, br;q=0") == {"gzip"}
    assert build.accepted_encodings(None) == set()
    assert {"br", "gzip"} <= build.accepted_encodings("*")


# --- pre-render escaping ---------------------------------------------------------------------------------------
EVIL = "</script><script>alert(1)</script><!-- \u2028 & 'q' \"dq\""


def test_json_for_script_is_inert_and_round_trips() -> None:
    value = {"models": [{"name": EVIL, "id": "x"}]}
    text = build.json_for_script(value)
    assert "</" not in text and "<!--" not in text and "<" not in text
    assert "\u2028" not in text
    assert json.loads(text) == value


def sample_report(name: str = EVIL) -> dict:
    return {
        "estimate": {
            "mode": "inference",
            "model": {"name": name},
            "total_bytes": 17_000_000_000,
            "components": {"weights": 16_000_000_000, "kv_cache<b>": 1_000_000_000, "gradients": 0},
        },
        "fit": {
            "gpu": "rtx-4090",
            "gpu_name": "<i>RTX</i>",
            "capacity_bytes": 24_000_000_000,
            "fits": True,
            "utilization": 0.708,
        },
    }


def test_render_result_summary_escapes_and_shows_numbers() -> None:
    out = build.render_result_summary(sample_report(), {"model": "m", "mode": "inference", "seq_len": 4096})
    assert "<script>" not in out and "<i>" not in out and "<b>" not in out
    assert "&lt;/script&gt;" in out
    assert "17.00 GB" in out and "15.83 GiB" in out
    assert "fits" in out and "71%" in out
    assert out.count("<tr data-component=") == 2


def test_prerender_index_fills_markers() -> None:
    src = (
        "<html><head><title>t</title></head><body><div><!-- prerender:result --></div>"
        '<!-- prerender:data --><script type="module" src="app/main.js"></script></body></html>'
    )
    catalog = {"models": [{"id": "x", "name": EVIL}], "gpus": []}
    req = {"mode": "inference", "model": "x"}
    doc = build.prerender_index(src, catalog, req, sample_report())
    assert "prerender:" not in doc
    scripts = dict(re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', doc, re.S))
    assert json.loads(scripts["prerendered-catalog"]) == catalog
    assert json.loads(scripts["prerendered-request"]) == req
    assert json.loads(scripts["prerendered-report"]) == sample_report()
    assert "<script>alert(1)" not in doc
    head = doc.split("</head>")[0]
    assert '<script type="module" src="engine/engine-client.js"></script>' in head


def test_prerender_index_requires_markers() -> None:
    with pytest.raises(build.BuildError, match="prerender:data"):
        build.prerender_index("<html><head></head><body><!-- prerender:result --></body></html>", {}, {}, {})
    doubled = "<head></head><!-- prerender:data --><!-- prerender:data --><!-- prerender:result -->"
    with pytest.raises(build.BuildError, match="exactly once"):
        build.prerender_index(doubled, {}, {}, {})


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def call(self, op: str, payload: str) -> str:
        req = json.loads(payload)
        self.calls.append(req)
        if req.get("method") == "qlora":
            return json.dumps({"ok": False, "error": {"message": "<b>no</b> qlora here", "field": "method"}})
        return json.dumps({"ok": True, "result": {"total_bytes": 2 * 10**9 + req["seq_len"]}})


def test_model_page_escapes_and_links_relatively() -> None:
    eng = FakeEngine()
    model = {
        "id": "evil-1",
        "name": EVIL,
        "family": "<img src=x onerror=alert(1)>",
        "kind": "text",
        "context_length": 32768,
        "params_total": 8_030_261_248,
        "hf_repo": "a/b",
    }
    page = build.model_page(eng, model, "2026-01-01T00:00:00Z")
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>no</b>" not in page
    assert 'href="../../#m=evil-1"' in page
    assert 'href="../models.css"' in page
    assert not re.search(r'(href|src)="/', page)  # no root-absolute links
    assert "8.03B parameters" in page
    assert {c["seq_len"] for c in eng.calls} == {4096, 32768}
    assert "2.00 GB" in page and "—" in page
    assert 'title="&lt;b&gt;no&lt;/b&gt; qlora here"' in page  # engine errors shown escaped
    assert all(c.get("method") != "lora" or "weights" not in c for c in eng.calls)


def test_models_index_and_sitemap_are_relative() -> None:
    idx = build.models_index_page([{"id": "a", "name": "<A>", "kind": "text", "params_total": 10**9}], "t")
    assert 'href="a/"' in idx and "&lt;A&gt;" in idx
    sm = build.sitemap_xml(["", "models/", "models/a/"])
    assert "<loc>models/a/</loc>" in sm and "http" not in sm.replace("http://www.sitemaps.org", "")
    assert "<loc>https://x.io/p/models/</loc>" in build.sitemap_xml(["models/"], "https://x.io/p/")


# --- icons -----------------------------------------------------------------------------------------------------
def test_png_encoder() -> None:
    png = build.encode_png(4, 3, lambda x, y: (x * 60, y * 80, 0, 255))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (4, 3)
    idat_len = int.from_bytes(png[33:37], "big")
    assert png[37:41] == b"IDAT"
    raw = zlib.decompress(png[41 : 41 + idat_len])
    assert len(raw) == 3 * (1 + 4 * 4)


def test_icon_shapes() -> None:
    plain = build.icon_pixel_fn(64, maskable=False)
    mask = build.icon_pixel_fn(64, maskable=True)
    assert plain(0, 0)[3] == 0  # rounded corner is transparent
    assert mask(0, 0)[3] == 255  # maskable fills the square
    assert plain(32, 32)[3] == 255
    assert build.icon_svg().startswith("<svg")


# --- the local server ------------------------------------------------------------------------------------------
@pytest.fixture
def server(tmp_path: Path):
    (tmp_path / "index.html").write_text("<!doctype html><p>hi</p>")
    (tmp_path / "index.html.br").write_bytes(b"BR")
    (tmp_path / "index.html.gz").write_bytes(b"GZ")
    vendor = tmp_path / "vendor" / "pyodide-314.0.7"
    vendor.mkdir(parents=True)
    (vendor / "pyodide.asm.wasm").write_bytes(b"\0asm")
    (tmp_path / "secret.txt").write_text("outside")
    root = tmp_path
    httpd = build.make_server(root, 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def test_server_precompressed_variants(server: int) -> None:
    status, h, body = get(server, "/", {"Accept-Encoding": "gzip, br"})
    assert status == 200 and body == b"BR" and h["content-encoding"] == "br"
    assert h["vary"] == "Accept-Encoding" and h["content-type"].startswith("text/html")
    assert h["cache-control"] == "no-cache"
    assert "wasm-unsafe-eval" in h["content-security-policy"]
    status, h, body = get(server, "/index.html", {"Accept-Encoding": "gzip"})
    assert body == b"GZ" and h["content-encoding"] == "gzip"
    status, h, body = get(server, "/index.html")
    assert body.startswith(b"<!doctype") and "content-encoding" not in h


def test_server_wasm_and_cache_headers(server: int) -> None:
    status, h, body = get(server, "/vendor/pyodide-314.0.7/pyodide.asm.wasm")
    assert status == 200 and h["content-type"] == "application/wasm" and body == b"\0asm"
    assert "immutable" in h["cache-control"]


def test_server_if_modified_since(server: int) -> None:
    _, h, _ = get(server, "/index.html")
    status, _, body = get(server, "/index.html", {"If-Modified-Since": h["last-modified"]})
    assert status == 304 and body == b""
    old = email.utils.formatdate(0, usegmt=True)
    status, _, _ = get(server, "/index.html", {"If-Modified-Since": old})
    assert status == 200


def test_server_refuses_traversal_and_variants(server: int) -> None:
    assert get(server, "/../secret.txt")[0] in (403, 404)
    assert get(server, "/%2e%2e/%2e%2e/etc/passwd")[0] in (403, 404)
    assert get(server, "/index.html.br")[0] == 404
    assert get(server, "/nope.js")[0] == 404
    status, h, _ = get(server, "/vendor")
    assert status == 301 and h["location"] == "/vendor/"


# --- bench (not run in CI: only its command line is checked) -----------------------------------------------------
def test_bench_run_help() -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout and "report" in proc.stdout


# --- the engine console (site/console/, a PyScript page) --------------------------------------------------------
CONSOLE_SRC = ROOT / "site" / "console"
GENERATED = {"manifest.webmanifest", "icons/icon.svg", "health.json"}  # written by later build steps


def built_console(tmp_path: Path) -> Path:
    """site/ copied the way the build copies it (the console's runtime block filled in)."""
    whl = make_wheel(
        tmp_path / "vram_insight-0.1.0-py3-none-any.whl", "vram-insight", "0.1.0", [], {"a.py": ""}
    )
    out = tmp_path / "out"
    out.mkdir()
    build.copy_site(build.BuildContext(out=out, wheels=[wheel_info(whl)]))
    return out


def test_console_csp_is_relaxed_for_the_console_path_only() -> None:
    strict, relaxed = build.CONTENT_SECURITY_POLICY, build.CONSOLE_CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in strict and "'wasm-unsafe-eval'" in strict
    assert "'unsafe-eval'" in relaxed
    assert relaxed.replace(" 'unsafe-eval'", "") == strict  # nothing else is relaxed
    for path in ("console/", "console/index.html", "/console/console.js", "console/console_worker.py"):
        assert build.security_headers(path)["Content-Security-Policy"] == relaxed, path
    for path in (
        "",
        "index.html",
        "app/main.js",
        "models/llama/index.html",
        "consoles/x.html",
        "vendor/console/a",
    ):
        assert build.security_headers(path)["Content-Security-Policy"] == strict, path
    assert build.SECURITY_HEADERS["Content-Security-Policy"] == strict  # the shared dict is left alone
    for path in ("console/index.html", "index.html"):
        rest = {k: v for k, v in build.security_headers(path).items() if k != "Content-Security-Policy"}
        assert rest == {k: v for k, v in build.SECURITY_HEADERS.items() if k != "Content-Security-Policy"}


def test_nginx_conf_sends_the_same_csp_split() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    m = re.search(r"map \$uri \$vram_csp \{(.*?)\}", conf, re.S)
    assert m, "deploy/nginx.conf has no $vram_csp map"
    entries = dict(re.findall(r'^\s*(\S+)\s+"([^"]*)";', m.group(1), re.M))
    assert entries == {
        "default": build.CONTENT_SECURITY_POLICY,
        '"~^/console/"': build.CONSOLE_CONTENT_SECURITY_POLICY,
    }
    # every Content-Security-Policy header nginx adds is the mapped one (the .br location included)
    csp_lines = re.findall(r"add_header\s+Content-Security-Policy\s+(\S+)", conf)
    assert csp_lines and set(csp_lines) == {"$vram_csp"}


def test_built_console_references_only_same_origin_urls(tmp_path: Path) -> None:
    out = built_console(tmp_path)
    console = out / "console"
    names = sorted(p.name for p in console.iterdir())
    assert {"index.html", "console.js", "console.css", "console_worker.py", "examples.js"} <= set(names)
    for f in console.iterdir():
        text = f.read_text(encoding="utf-8")
        assert "://" not in text, f"{f.name} names an absolute URL"
        assert not re.search(r"""(?:src|href)\s*=\s*["']//""", text), f"{f.name} has a scheme-relative URL"
    page = (console / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert "../styles.css" in refs and "console.js" in refs and "../" in refs
    for ref in refs:
        if ref.startswith("#"):
            assert f'id="{ref[1:]}"' in page, ref
            continue
        assert not ref.startswith(("/", "data:", "javascript:")), ref
        target = (console / ref).resolve()
        assert target.is_relative_to(out.resolve()), ref
        rel = target.relative_to(out.resolve()).as_posix()
        assert target.exists() or rel in GENERATED, (
            f"index.html references {ref}, which the build does not ship"
        )
    assert "<script>" not in page and " style=" not in page  # no inline script, no inline styles (strict CSP)
    assert "micropip" not in page


def test_built_console_runtime_block(tmp_path: Path) -> None:
    src = (CONSOLE_SRC / "console.js").read_text(encoding="utf-8")
    assert len(build.CONSOLE_BLOCK.findall(src)) == 1
    built = (built_console(tmp_path) / "console" / "console.js").read_text(encoding="utf-8")
    m = build.CONSOLE_BLOCK.search(built)
    assert m
    cfg = json.loads(m.group(0).removeprefix("/*build:console*/").removesuffix("/*end:console*/"))
    assert cfg == {
        "pyscript": f"{build.PYSCRIPT_DIR}/",
        "pyodide": f"{build.PYODIDE_DIR}/",
        "packages": ["vram-insight"],
    }
    assert 'packages_cache: "passthrough"' in built  # no micropip, no IndexedDB package cache
    assert "version: interpreter" in built  # else PyScript loads Pyodide from its CDN


def test_pyscript_console_files(tmp_path: Path) -> None:
    d = tmp_path / "pyscript"
    d.mkdir()
    (d / "core.js").write_text('export{a as PyWorker}from"./core-AbCd1234.js";')
    (d / "core-AbCd1234.js").write_text(
        'import{x}from"./util-Zz9_-x1y.js";const p={error:()=>import("./error-D2315lOB.js"),'
        'editor:()=>import("./py-editor-C4XsZtn7.js")};const g=()=>import("./pyodide_graph-CX6fRcVL.js");'
        'const w="await(import(\\"./pyodide_graph-BqKJzFlw.js\\"))";'
    )
    (d / "util-Zz9_-x1y.js").write_text("export const x=1;")
    (d / "error-D2315lOB.js").write_text('import"./core-AbCd1234.js";')
    (d / "py-editor-C4XsZtn7.js").write_text('import("./codemirror-BDx3jn9j.js")')
    (d / "pyodide_graph-CX6fRcVL.js").write_text("export default {}")
    assert build.pyscript_console_files(d) == [
        "core-AbCd1234.js",
        "core.js",
        "error-D2315lOB.js",
        "pyodide_graph-CX6fRcVL.js",
        "util-Zz9_-x1y.js",
    ]
    (d / "util-Zz9_-x1y.js").unlink()
    with pytest.raises(build.BuildError, match=re.escape("util-Zz9_-x1y.js is missing")):
        build.pyscript_console_files(d)


def test_precache_keeps_the_console_files() -> None:
    files = [
        *FILES,
        "console/index.html",
        "console/index.html.br",
        "console/console.js",
        "console/console_worker.py",
        "vendor/pyscript-0.7.31/core.js",
        "vendor/pyscript-0.7.31/core-C9KDLldu.js",
        "vendor/pyscript-0.7.31/py-editor-C4XsZtn7.js",
        "vendor/micropython-1.28.0-6/micropython.wasm",
    ]
    keep = ["vendor/pyscript-0.7.31/core.js", "vendor/pyscript-0.7.31/core-C9KDLldu.js"]
    pre = build.precache_paths(files, ["vendor/pyscript-0.7.31", "vendor/micropython-1.28.0-6"], keep)
    assert "console/console.js" in pre and "console/console_worker.py" in pre
    # The console page itself is precached under its folder's URL, so it opens offline even if it was never
    # visited online (issue 12, item 10); its file name is not a second copy.
    assert pre[:2] == ["./", "console/"]
    assert "console/index.html" not in pre
    assert set(keep) <= set(pre)
    assert "vendor/pyscript-0.7.31/py-editor-C4XsZtn7.js" not in pre
    assert not any("micropython" in p for p in pre)


def test_console_examples_run_under_cpython(capsys: pytest.CaptureFixture[str]) -> None:
    """The snippets offered in the console run under CPython with the engine (the browser runs them too, in
    e2e/test_console.py); the default one prints what the brief's one-liner prints."""
    from vram_insight import EstimateRequest
    from vram_insight.estimate import estimate

    src = (CONSOLE_SRC / "examples.js").read_text(encoding="utf-8")
    snippets = dict(re.findall(r"const (\w+) = `(.*?)`;", src, re.S))
    assert len(snippets) >= 3 and "ESTIMATE" in snippets
    for name, code in snippets.items():
        assert "${" not in code and "\\" not in code, f"{name}: keep the snippets free of JS escapes"
        exec(compile(code, f"<example {name}>", "exec"), {"__name__": "__main__"})
        assert capsys.readouterr().out.strip(), name
    exec(compile(snippets["ESTIMATE"], "<example>", "exec"), {"__name__": "__main__"})
    first = capsys.readouterr().out.splitlines()[0]
    r = estimate(EstimateRequest(model="llama-3.1-8b", mode="inference", seq_len=8192))
    assert first == f"{r.total_bytes / 1e9} GB"


def test_server_sends_the_console_csp(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><p>app</p>")
    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "index.html").write_text("<!doctype html><p>console</p>")
    (tmp_path / "console" / "index.html.br").write_bytes(b"BR")
    (tmp_path / "console" / "console.js").write_text("export {};")
    httpd = build.make_server(tmp_path, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        for path, enc in (("/console/", "br"), ("/console/", None), ("/console/index.html", None)):
            status, h, _ = get(port, path, {"Accept-Encoding": enc} if enc else None)
            assert status == 200 and h["content-security-policy"] == build.CONSOLE_CONTENT_SECURITY_POLICY
        assert get(port, "/console/", {"Accept-Encoding": "br"})[2] == b"BR"
        assert "'unsafe-eval'" in get(port, "/console/console.js")[1]["content-security-policy"]
        for path in ("/", "/index.html"):
            assert get(port, path)[1]["content-security-policy"] == build.CONTENT_SECURITY_POLICY
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- health.json ----------------------------------------------------------------------------------------------------
def test_build_timestamp_honours_source_date_epoch() -> None:
    # reproducible-builds.org: SOURCE_DATE_EPOCH is whole seconds since 1970-01-01 UTC
    assert build.build_timestamp({"SOURCE_DATE_EPOCH": "0"}) == "1970-01-01T00:00:00Z"
    assert build.build_timestamp({"SOURCE_DATE_EPOCH": "1700000000"}) == "2023-11-14T22:13:20Z"
    assert build.build_timestamp({"SOURCE_DATE_EPOCH": "1700000000"}, now=0.0) == "2023-11-14T22:13:20Z"
    # unset or empty: the clock (here a given instant: one day and one second after the epoch)
    assert build.build_timestamp({}, now=86_401.0) == "1970-01-02T00:00:01Z"
    assert build.build_timestamp({"SOURCE_DATE_EPOCH": ""}, now=86_401.0) == "1970-01-02T00:00:01Z"


@pytest.mark.parametrize("bad", ["abc", "-5", "1.5", "1e9", "17000000000000"])
def test_build_timestamp_rejects_a_bad_source_date_epoch(bad: str) -> None:
    with pytest.raises(build.BuildError, match=r"^SOURCE_DATE_EPOCH=.* is not a whole number of seconds"):
        build.build_timestamp({"SOURCE_DATE_EPOCH": bad})


def test_build_context_takes_its_time_from_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "946684800")  # 2000-01-01 00:00:00 UTC
    assert build.BuildContext(out=Path("x")).build_time == "2000-01-01T00:00:00Z"


def catalog_counts_from_data() -> dict[str, int]:
    """The catalog counted straight from data/ (not through the engine)."""
    kinds = [json.loads(p.read_text())["kind"] for p in (ROOT / "data" / "models").glob("*.json")]
    gpus = json.loads((ROOT / "data" / "gpus.json").read_text())["gpus"]
    return {
        "models": len(kinds),
        "text_models": kinds.count("text"),
        "multimodal_models": kinds.count("multimodal"),
        "gpus": len(gpus),
    }


def health_context(tmp_path: Path, *, with_engine_wheel: bool = True) -> build.BuildContext:
    from vram_insight import web_api

    wheels = [
        make_wheel(tmp_path / "pydantic-2.1-py3-none-any.whl", "pydantic", "2.1", [], {"pydantic/a.py": ""})
    ]
    if with_engine_wheel:
        wheels.append(
            make_wheel(
                tmp_path / "vram_insight-0.1.0-py3-none-any.whl", "vram-insight", "0.1.0", [], {"a.py": "x=1"}
            )
        )
    info = json.loads(web_api.call("info", "{}"))["result"]
    return build.BuildContext(
        out=tmp_path, wheels=[wheel_info(w) for w in wheels], info=info, build_time="2024-05-06T07:08:09Z"
    )


def test_health_document_says_version_time_engine_hash_and_catalog(tmp_path: Path) -> None:
    import tomllib

    ctx = health_context(tmp_path)
    doc = build.health_document(ctx, "abc123", 42)
    whl = tmp_path / "vram_insight-0.1.0-py3-none-any.whl"
    assert doc["status"] == "ok"
    assert doc["version"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert doc["build_time"] == "2024-05-06T07:08:09Z"
    assert doc["engine"]["wheel"] == whl.name
    assert doc["engine"]["sha256"] == hashlib.sha256(whl.read_bytes()).hexdigest()
    assert doc["catalog"] == catalog_counts_from_data()
    assert doc["wheels"] == {"pydantic": "2.1", "vram-insight": "0.1.0"}
    assert (doc["cache"], doc["file_count"]) == ("abc123", 42)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON


def test_health_document_needs_the_engine_wheel_and_the_catalog(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match="engine wheel"):
        build.health_document(health_context(tmp_path, with_engine_wheel=False), "c", 1)
    ctx = health_context(tmp_path)
    del ctx.info["catalog"]["gpus"]
    with pytest.raises(build.BuildError, match="catalog count for gpus"):
        build.health_document(ctx, "c", 1)


def test_write_health_counts_files_without_variants(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    ctx = health_context(tmp_path / "w")
    ctx.out = tmp_path / "site"
    (ctx.out / "app").mkdir(parents=True)
    for name in ("index.html", "index.html.br", "index.html.gz", "app/main.js"):
        (ctx.out / name).write_text("x")
    build.write_health(ctx, "c")
    doc = json.loads((ctx.out / "health.json").read_text())
    assert doc["file_count"] == 3  # index.html, app/main.js and health.json itself
    assert (
        doc["engine"]["sha256"]
        == hashlib.sha256((tmp_path / "w" / "vram_insight-0.1.0-py3-none-any.whl").read_bytes()).hexdigest()
    )
