"""The engine console's Python side: runs in Pyodide inside a PyScript worker (see index.html and console.js).

Exports (``__export__``, awaited from the page through ``xworker.sync``):

- ``info()``: a JSON string (Python, engine and pydantic versions, the time the engine's import took), the
  page's health check after boot;
- ``run(code)``: executes ``code`` in a fresh namespace and returns a JSON string
  ``{"ok": bool, "output": [[stream, text], ...], "ms": float}``; stdout and stderr are captured in the order
  they were written, a failure adds its traceback to stderr (the frames of this module are left out).

Nothing here touches the DOM: the page shows the output as text.
"""

import time

_T0 = time.perf_counter()

import contextlib  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import pydantic  # noqa: E402

import vram_insight  # noqa: E402
from vram_insight import EstimateRequest, report, web_api  # noqa: E402, F401  (imported now: the first run is fast)
from vram_insight.estimate import estimate  # noqa: E402, F401

IMPORT_MS = (time.perf_counter() - _T0) * 1000

FILENAME = "<console>"
MAX_OUTPUT = 1 << 20  # characters kept per run; more is cut with a note


class Capture:
    """A text stream that records (stream name, text) chunks, merging consecutive writes to the same stream."""

    def __init__(self, chunks, name, budget):
        self.chunks = chunks
        self.name = name
        self.budget = budget

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        left = self.budget[0]
        if left <= 0:
            return len(text)
        kept = text[:left]
        self.budget[0] = left - len(kept)
        if len(kept) < len(text):
            kept += f"\n[output cut at {MAX_OUTPUT:,} characters]\n"
        if self.chunks and self.chunks[-1][0] == self.name:
            self.chunks[-1][1] += kept
        else:
            self.chunks.append([self.name, kept])
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"


def _user_traceback(exc):
    """The traceback from the user's code on (this module's frames left out), as text. A SyntaxError has no
    frame of the user's code: only the error itself is shown."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def run(code):
    chunks = []
    budget = [MAX_OUTPUT]
    out, err = Capture(chunks, "stdout", budget), Capture(chunks, "stderr", budget)
    # Source lines for the traceback: the code has no file.
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    ok = True
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(code, FILENAME, "exec"), namespace)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are the user's too
            ok = False
            err.write(_user_traceback(exc))
    ms = (time.perf_counter() - t0) * 1000
    return json.dumps({"ok": ok, "output": chunks, "ms": round(ms, 2)})


def info():
    return json.dumps(
        {
            "python": sys.version.split()[0],
            "engine_version": vram_insight.__version__,
            "pydantic": pydantic.VERSION,
            "import_ms": round(IMPORT_MS, 1),
        }
    )


__export__ = ["run", "info"]
