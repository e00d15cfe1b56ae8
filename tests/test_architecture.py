"""The engine's import rules, read from the layer table in docs/architecture.md (so the picture stays true)."""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "engine" / "vram_insight"
DOC = ROOT / "docs" / "architecture.md"
THIRD_PARTY_ALLOWED = {"pydantic", "pydantic_core"}


def layer_table(text: str) -> list[tuple[int, str, list[str]]]:
    """Rows of the doc's layer table: (number, layer name, module patterns)."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|\s*([\w ]+?)\s*\|(.*?)\|", line)
        if m:
            patterns = re.findall(r"`([\w.*]+)`", m.group(3))
            rows.append((int(m.group(1)), m.group(2), patterns))
    return rows


def engine_modules() -> dict[str, Path]:
    """Dotted module name (relative to the package; a package is its own name) → file."""
    out = {}
    for path in ENGINE.rglob("*.py"):
        parts = list(path.relative_to(ENGINE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, modules: set[str]) -> tuple[set[str], set[str]]:
    """(engine modules imported, top-level external modules imported) — type-checking-only imports excluded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    if name == "__init__":
        package = []
    engine, external = set(), set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                for alias in node.names:
                    sub = f"{target}.{alias.name}" if target else alias.name
                    engine.add(sub if sub in modules else (target or "__init__"))
            elif node.module and node.module.split(".")[0] == "vram_insight":
                engine.add(node.module.removeprefix("vram_insight.") or "__init__")
            elif node.module:
                external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "vram_insight":
                    engine.add(alias.name.removeprefix("vram_insight.") or "__init__")
                else:
                    external.add(top)
    engine.discard(name)
    return engine, external


def layer_of(module: str, table: list[tuple[int, str, list[str]]]) -> int | None:
    for number, _, patterns in table:
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return number
    return None


TABLE = layer_table(DOC.read_text(encoding="utf-8"))
MODULES = engine_modules()


def test_doc_has_the_layer_table() -> None:
    assert [n for n, _, _ in TABLE] == list(range(len(TABLE))) and len(TABLE) >= 8


def test_every_engine_module_is_in_a_layer() -> None:
    missing = sorted(m for m in MODULES if layer_of(m, TABLE) is None)
    assert not missing, f"add these modules to the layer table in docs/architecture.md: {missing}"


def test_no_module_imports_a_lower_layer() -> None:
    names = set(MODULES)
    bad = []
    for name, path in sorted(MODULES.items()):
        mine = layer_of(name, TABLE)
        for target in imports_of(name, path, names)[0]:
            theirs = layer_of(target, TABLE)
            if mine is not None and theirs is not None and theirs > mine:
                bad.append(f"{name} (layer {mine}) imports {target} (layer {theirs})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    names = set(MODULES)
    graph = {name: imports_of(name, path, names)[0] & names for name, path in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " → ".join([*stack, node, nxt]))
            if nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_engine_imports_only_stdlib_and_pydantic() -> None:
    names = set(MODULES)
    allowed = set(sys.stdlib_module_names) | THIRD_PARTY_ALLOWED | {"__future__"}
    bad = {
        f"{name}: {ext}"
        for name, path in MODULES.items()
        for ext in imports_of(name, path, names)[1]
        if ext not in allowed
    }
    assert not bad, sorted(bad)


def test_the_checker_catches_a_climbing_import(tmp_path: Path) -> None:
    """The rule check itself works: a formula module importing a workload is reported."""
    fake = tmp_path / "kv.py"
    fake.write_text("from .workloads.training import training\n", encoding="utf-8")
    targets, _ = imports_of("kv", fake, set(MODULES))
    assert "workloads.training" in targets
    assert layer_of("workloads.training", TABLE) > layer_of("kv", TABLE)
