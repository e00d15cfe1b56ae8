#!/usr/bin/env python3
"""Check the deployment files without a cluster or a container runtime; every problem is one line naming the file,
the line and the field.

    python deploy/check_manifests.py [--site _site]

- every YAML document under deploy/k8s/ parses and validates against the Kubernetes API schemas of the pinned
  versions (K8S_VERSIONS; the JSON schemas bundled by the pinned ``kubernetes-validate`` package), strictly: an
  unknown field (a typo such as ``readinesProbe``) is an error, not silently dropped;
- every kustomization resolves (its resources exist) and every manifest is part of one;
- the resources fit together: selectors select the pods, Service and probe ports name container ports, the Ingress
  names the Service, mounts name volumes;
- they fit the image: the container port is nginx's ``listen``, the user is the Dockerfile's ``USER``, the
  read-only root filesystem has a writable mount for every path nginx writes (deploy/nginx.conf), and the Ingress
  path is the prefix that the sub-path rewrite strips; deploy/compose.yaml likewise;
- with ``--site``: every probe and health check asks for a file the built site has (a probe that would 404).

Needs PyYAML and kubernetes-validate (the project's ``dev`` extras). nginx -t on deploy/nginx.conf is run by the
end-to-end tests (e2e/test_nginx.py), where nginx is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX_CONF = DEPLOY / "nginx.conf"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
# The oldest Kubernetes minor we support and the newest one whose schemas kubernetes-validate (pinned in
# pyproject.toml) bundles.
K8S_VERSIONS = ("1.30.0", "1.37.0")
SUBPATH_INCLUDE_DIR = "/etc/nginx/vram-insight.d"
URL_PATH = re.compile(r"https?://[^/\s]+(/[^\s\"']*)")
Path_ = Sequence[str | int]


@dataclass
class Doc:
    """One YAML document: its data and its node tree (for line numbers)."""

    path: Path
    data: Any
    node: yaml.Node

    @property
    def label(self) -> str:
        if isinstance(self.data, dict):
            return f"{self.data.get('kind', '?')}/{(self.data.get('metadata') or {}).get('name', '?')}"
        return "?"

    def where(self, field: Path_ = ()) -> str:
        return f"{rel(self.path)}:{line_of(self.node, field)}"

    def locate(self, field: Path_) -> str:
        return f"{self.where(field)}: {self.label}: {dotted(field) or '(document)'}"

    def error(self, field: Path_, message: str) -> str:
        return f"{self.locate(field)}: {message}"


def rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def dotted(field: Path_) -> str:
    out = ""
    for part in field:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(node: yaml.Node, field: Path_) -> int:
    """1-based line of ``field`` in ``node`` (a key's own line); the deepest existing part when it is missing."""
    line = node.start_mark.line
    for part in field:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            hit = next(((k, v) for k, v in node.value if k.value == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def load_docs(path: Path) -> tuple[list[Doc], list[str]]:
    """The non-empty documents of a YAML file, or one error naming the line that does not parse."""
    text = path.read_text(encoding="utf-8")
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        datas = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return [], [f"{rel(path)}:{line}: YAML: {exc.problem or exc}"]
    return [Doc(path, d, n) for d, n in zip(datas, nodes, strict=True) if d is not None], []


# --- Kubernetes API schemas -----------------------------------------------------------------------------------------
def schema_errors(doc: Doc, versions: Iterable[str] = K8S_VERSIONS) -> list[str]:
    """The document against the strict API schema of each version (the first error per version)."""
    from kubernetes_validate import utils as kv

    if not isinstance(doc.data, dict) or not doc.data.get("apiVersion") or not doc.data.get("kind"):
        return [doc.error((), "not a Kubernetes object (apiVersion and kind are required)")]
    errors: list[str] = []
    for version in versions:
        try:
            kv.validate(doc.data, version, strict=True)
        except kv.ValidationError as exc:
            field = list(exc.absolute_path)
            message = exc.message
            if exc.validator == "additionalProperties" and isinstance(exc.instance, dict):
                known = exc.schema.get("properties") or {}
                extra = [k for k in exc.instance if k not in known]
                if extra:
                    field.append(extra[0])
                    message = f"unknown field {extra[0]!r}"
            errors.append(doc.error(field, f"{message} (Kubernetes {version} schema)"))
        except (kv.SchemaNotFoundError, kv.VersionNotSupportedError) as exc:
            errors.append(doc.error(("kind",), f"{exc.message}"))
    return sorted(set(errors), key=errors.index)


# --- kustomizations -------------------------------------------------------------------------------------------------
def kustomization_files(root: Path = K8S) -> list[Path]:
    return sorted(root.rglob("kustomization.yaml"))


def manifest_files(root: Path = K8S) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if p.name != "kustomization.yaml")


def resolve(kustomization: Path, seen: tuple[Path, ...] = ()) -> tuple[list[Doc], list[str]]:
    """The objects a kustomization puts together (its ``resources``, recursively), as ``kubectl apply -k`` would
    before transforming them."""
    docs, errors = load_docs(kustomization)
    if errors:
        return [], errors
    if not docs or not isinstance(docs[0].data, dict) or docs[0].data.get("kind") != "Kustomization":
        return [], [f"{rel(kustomization)}:1: not a Kustomization (kind: Kustomization)"]
    k = docs[0]
    out: list[Doc] = []
    for i, entry in enumerate(k.data.get("resources") or []):
        target = (kustomization.parent / str(entry)).resolve()
        if target.is_dir():
            target = target / "kustomization.yaml"
            if target in seen or not target.is_file():
                errors.append(
                    k.error(("resources", i), f"{entry!r} is not a folder with a kustomization.yaml")
                )
                continue
            sub, sub_errors = resolve(target, (*seen, kustomization))
            out += sub
            errors += sub_errors
        elif target.is_file():
            sub, sub_errors = load_docs(target)
            out += sub
            errors += sub_errors
        else:
            errors.append(k.error(("resources", i), f"{entry!r} does not exist"))
    return out, errors


def unlisted_manifests(root: Path = K8S) -> list[str]:
    listed = set()
    for k in kustomization_files(root):
        docs, _ = resolve(k)
        listed |= {d.path.resolve() for d in docs}
    return [
        f"{rel(p)}:1: not listed in any kustomization.yaml"
        for p in manifest_files(root)
        if p.resolve() not in listed
    ]


# --- how the objects fit together -----------------------------------------------------------------------------------
def objects(docs: Iterable[Doc], kind: str) -> Iterator[Doc]:
    return (d for d in docs if isinstance(d.data, dict) and d.data.get("kind") == kind)


def pod_containers(deploy: Doc) -> list[tuple[int, dict[str, Any]]]:
    spec = deploy.data.get("spec", {}).get("template", {}).get("spec", {})
    return list(enumerate(spec.get("containers") or []))


def pod_labels(deploy: Doc) -> dict[str, Any]:
    return (deploy.data["spec"]["template"].get("metadata") or {}).get("labels") or {}


def port_matches(port: Any, container: dict[str, Any]) -> bool:
    ports = container.get("ports") or []
    return any(p.get("name") == port or p.get("containerPort") == port for p in ports)


def reference_errors(docs: list[Doc]) -> list[str]:
    errors: list[str] = []
    deployments = list(objects(docs, "Deployment"))
    services = {d.data["metadata"]["name"]: d for d in objects(docs, "Service")}
    configmaps = {d.data["metadata"]["name"] for d in objects(docs, "ConfigMap")}
    for dep in deployments:
        tmpl = dep.data["spec"]["template"]
        sel = dep.data["spec"].get("selector", {}).get("matchLabels") or {}
        if not sel.items() <= pod_labels(dep).items():
            errors.append(dep.error(("spec", "selector", "matchLabels"), "does not match the pod labels"))
        pod = tmpl["spec"]
        volumes = {v["name"]: (vi, v) for vi, v in enumerate(pod.get("volumes") or [])}
        for vi, v in volumes.values():
            cm = v.get("configMap")
            if cm and not cm.get("optional") and cm.get("name") not in configmaps:
                field = ("spec", "template", "spec", "volumes", vi, "configMap", "name")
                errors.append(
                    dep.error(field, f"ConfigMap {cm.get('name')!r} is not part of this kustomization")
                )
        for ci, c in pod_containers(dep):
            base = ("spec", "template", "spec", "containers", ci)
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                get = (c.get(probe) or {}).get("httpGet")
                if get and not port_matches(get.get("port"), c):
                    field = (*base, probe, "httpGet", "port")
                    errors.append(dep.error(field, f"{get.get('port')!r} is not a port of this container"))
            for mi, m in enumerate(c.get("volumeMounts") or []):
                if m.get("name") not in volumes:
                    field = (*base, "volumeMounts", mi, "name")
                    errors.append(dep.error(field, f"no volume named {m.get('name')!r}"))
    for svc in services.values():
        sel = svc.data["spec"].get("selector") or {}
        pods = [d for d in deployments if sel and sel.items() <= pod_labels(d).items()]
        if not pods:
            errors.append(svc.error(("spec", "selector"), "selects no pod of this kustomization"))
        for pi, p in enumerate(svc.data["spec"].get("ports") or []):
            target = p.get("targetPort", p.get("port"))
            if pods and not any(port_matches(target, c) for d in pods for _, c in pod_containers(d)):
                field = ("spec", "ports", pi, "targetPort")
                errors.append(svc.error(field, f"{target!r} is not a port of the selected pods"))
    for ing in objects(docs, "Ingress"):
        for ri, rule in enumerate(ing.data["spec"].get("rules") or []):
            for pi, path in enumerate((rule.get("http") or {}).get("paths") or []):
                svc = path["backend"].get("service") or {}
                field = ("spec", "rules", ri, "http", "paths", pi, "backend", "service")
                target = services.get(svc.get("name"))
                if target is None:
                    errors.append(ing.error((*field, "name"), f"no Service {svc.get('name')!r} here"))
                    continue
                port = svc.get("port") or {}
                want = port.get("name", port.get("number"))
                if not any(want in (p.get("name"), p.get("port")) for p in target.data["spec"]["ports"]):
                    field = (*field, "port", "name" if "name" in port else "number")
                    errors.append(ing.error(field, f"Service {svc['name']!r} has no port {want!r}"))
    return errors


# --- how they fit the image (deploy/Dockerfile, deploy/nginx.conf) --------------------------------------------------
def nginx_listen_port(text: str) -> int:
    m = re.search(r"^\s*listen\s+(?:[\d.]+:)?(\d+)\b", text, re.M)
    if not m:
        raise ValueError("deploy/nginx.conf has no `listen` port")
    return int(m.group(1))


def nginx_written_paths(text: str) -> list[str]:
    """Every path nginx writes at run time according to the config (pid, temp folders)."""
    return re.findall(r"^\s*(?:pid|\w+_temp_path)\s+(/[^\s;]+)", text, re.M)


def dockerfile_user(text: str) -> int:
    users = re.findall(r"^USER\s+(\d+)", text, re.M)
    if not users:
        raise ValueError("deploy/Dockerfile sets no numeric USER")
    return int(users[-1])


def subpath_prefix(conf: str) -> str | None:
    """The prefix a sub-path rewrite file strips (``rewrite ^/prefix/(.*)$ /$1;``)."""
    m = re.search(r"^\s*rewrite\s+\^(/[^\s$]*?)/\(\.\*\)\$\s+/\$1\s*;", conf, re.M)
    return m.group(1) if m else None


def image_errors(docs: list[Doc], nginx_text: str, dockerfile_text: str) -> list[str]:
    errors: list[str] = []
    port, uid = nginx_listen_port(nginx_text), dockerfile_user(dockerfile_text)
    written = nginx_written_paths(nginx_text)
    for dep in objects(docs, "Deployment"):
        pod = dep.data["spec"]["template"]["spec"]
        psc = pod.get("securityContext") or {}
        for ci, c in pod_containers(dep):
            base = ("spec", "template", "spec", "containers", ci)
            sc = c.get("securityContext") or {}
            if not any(p.get("containerPort") == port for p in c.get("ports") or []):
                errors.append(
                    dep.error((*base, "ports"), f"no containerPort {port} (deploy/nginx.conf listens there)")
                )
            user = sc.get("runAsUser", psc.get("runAsUser"))
            if user != uid:
                field = ("spec", "template", "spec", "securityContext", "runAsUser")
                errors.append(
                    dep.error(field, f"{user!r} is not the image's user {uid} (deploy/Dockerfile USER)")
                )
            if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                errors.append(dep.error((*base, "securityContext"), "runAsNonRoot is not set"))
            if sc.get("readOnlyRootFilesystem") is not True:
                field = (*base, "securityContext", "readOnlyRootFilesystem")
                errors.append(dep.error(field, "must be true"))
            mounts = [m.get("mountPath", "").rstrip("/") + "/" for m in c.get("volumeMounts") or []]
            for w in written:
                if not any(w.startswith(m) for m in mounts):
                    field = (*base, "volumeMounts")
                    errors.append(
                        dep.error(field, f"nothing writable is mounted for {w} (deploy/nginx.conf)")
                    )
    prefixes = {}
    for cm in objects(docs, "ConfigMap"):
        for key, text in (cm.data.get("data") or {}).items():
            if key.endswith(".conf") and subpath_prefix(text):
                prefixes[subpath_prefix(text)] = cm
    for ing in objects(docs, "Ingress"):
        for ri, rule in enumerate(ing.data["spec"].get("rules") or []):
            for pi, path in enumerate((rule.get("http") or {}).get("paths") or []):
                p = str(path.get("path", "/")).rstrip("/")
                if p and p not in prefixes:
                    field = ("spec", "rules", ri, "http", "paths", pi, "path")
                    found = ", ".join(sorted(prefixes)) or "none"
                    errors.append(
                        ing.error(field, f"no sub-path rewrite strips {p!r} (ConfigMap prefixes: {found})")
                    )
    return errors


def compose_errors(compose: Path, nginx_text: str, dockerfile_text: str) -> list[str]:
    docs, errors = load_docs(compose)
    if errors:
        return errors
    doc = docs[0]
    port, uid = nginx_listen_port(nginx_text), dockerfile_user(dockerfile_text)
    for name, svc in (doc.data.get("services") or {}).items():
        base = ("services", name)
        if not any(str(p).rsplit(":", 1)[-1] == str(port) for p in svc.get("ports") or []):
            errors.append(doc.error((*base, "ports"), f"does not publish the container port {port}"))
        test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))
        if f":{port}/" not in test:
            errors.append(doc.error((*base, "healthcheck", "test"), f"does not ask port {port}"))
        if not svc.get("restart"):
            errors.append(doc.error(base, "no restart policy"))
        if str(svc.get("user", "")).split(":")[0] != str(uid):
            errors.append(doc.error((*base, "user"), f"is not the image's user {uid}"))
        if svc.get("read_only") is True:
            tmpfs = [str(t).split(":")[0].rstrip("/") + "/" for t in svc.get("tmpfs") or []]
            for w in nginx_written_paths(nginx_text):
                if not any(w.startswith(t) for t in tmpfs):
                    errors.append(
                        doc.error((*base, "tmpfs"), f"nothing writable for {w} (deploy/nginx.conf)")
                    )
    return errors


# --- probes against a built site ------------------------------------------------------------------------------------
def probe_urls(
    docs: list[Doc], compose: Path = COMPOSE, dockerfile: Path = DOCKERFILE
) -> list[tuple[str, str]]:
    """(where, path) of every HTTP probe and health check: Deployment probes, Compose and Dockerfile health checks."""
    out: list[tuple[str, str]] = []
    for dep in objects(docs, "Deployment"):
        for ci, c in pod_containers(dep):
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                get = (c.get(probe) or {}).get("httpGet")
                if get:
                    field = ("spec", "template", "spec", "containers", ci, probe, "httpGet", "path")
                    out.append((dep.locate(field), str(get.get("path", "/"))))
    if compose.is_file():
        cdocs, _ = load_docs(compose)
        for cdoc in cdocs:
            for name, svc in (cdoc.data.get("services") or {}).items():
                test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))
                for url in URL_PATH.findall(test):
                    field = ("services", name, "healthcheck", "test")
                    out.append((f"{cdoc.where(field)}: {dotted(field)}", url))
    if dockerfile.is_file():
        for n, line in enumerate(dockerfile.read_text().splitlines(), 1):
            if line.startswith("HEALTHCHECK"):
                out += [(f"{rel(dockerfile)}:{n}: HEALTHCHECK", u) for u in URL_PATH.findall(line)]
    return out


def probe_errors(probes: list[tuple[str, str]], site: Path) -> list[str]:
    """Probes whose path is not a file of the built site (nginx would answer 404)."""
    errors = []
    for where, path in probes:
        rel_path = path.split("?")[0].lstrip("/")
        target = site / rel_path
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            errors.append(f"{where}: {path} is not a file of the built site {rel(site)}: the probe gets 404")
    return errors


# --- everything -----------------------------------------------------------------------------------------------------
def all_docs(root: Path = K8S) -> tuple[list[Doc], list[str]]:
    docs, errors = [], []
    for p in manifest_files(root):
        d, e = load_docs(p)
        docs += d
        errors += e
    return docs, errors


def check(site: Path | None = None) -> tuple[int, list[str]]:
    """(number of manifests checked, errors)."""
    nginx_text, dockerfile_text = NGINX_CONF.read_text(), DOCKERFILE.read_text()
    docs, errors = all_docs()
    for d in docs:
        errors += schema_errors(d)
    errors += unlisted_manifests()
    for k in kustomization_files():
        resolved, k_errors = resolve(k)
        errors += k_errors + reference_errors(resolved) + image_errors(resolved, nginx_text, dockerfile_text)
    errors += compose_errors(COMPOSE, nginx_text, dockerfile_text)
    if site is not None:
        errors += probe_errors(probe_urls(docs), site)
    return len(docs), sorted(set(errors), key=errors.index)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", help="a built site folder: check that every probe path is one of its files")
    args = ap.parse_args(argv)
    n, errors = check(Path(args.site) if args.site else None)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    versions = ", ".join(K8S_VERSIONS)
    print(f"ok: {n} manifests valid against Kubernetes {versions}; compose, image and probes agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
