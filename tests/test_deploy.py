"""The deployment files (deploy/): Kubernetes manifests against the API schemas, how they fit together and fit the
image, Compose, and that a broken file fails with the file, line and field that is wrong. No cluster, no container
runtime, no nginx needed (nginx -t and the image are checked by e2e/test_nginx.py and e2e/test_container.py)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))

pytest.importorskip("yaml", reason="PyYAML comes with the dev extras (pip install -e '.[dev]')")
pytest.importorskip("kubernetes_validate", reason="kubernetes-validate comes with the dev extras")

import check_manifests as cm  # noqa: E402

NGINX_TEXT = cm.NGINX_CONF.read_text()
DOCKERFILE_TEXT = cm.DOCKERFILE.read_text()


# --- helpers ---------------------------------------------------------------------------------------------------------
def copy_k8s(tmp_path: Path) -> Path:
    dst = tmp_path / "k8s"
    shutil.copytree(cm.K8S, dst)
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


def line_no(path: Path, needle: str) -> int:
    """1-based line of the only line containing ``needle`` (found by plain text search, not by the checker)."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def schema_errors_of(path: Path) -> list[str]:
    docs, errors = cm.load_docs(path)
    for d in docs:
        errors += cm.schema_errors(d)
    return errors


def overlay_errors(k8s: Path) -> list[str]:
    docs, errors = cm.resolve(k8s / "ingress" / "kustomization.yaml")
    return errors + cm.reference_errors(docs) + cm.image_errors(docs, NGINX_TEXT, DOCKERFILE_TEXT)


# --- the real files ----------------------------------------------------------------------------------------------------
def test_the_deploy_files_pass_every_check() -> None:
    n, errors = cm.check()
    assert errors == []
    assert n == len(list(cm.K8S.rglob("*.yaml"))) - len(cm.kustomization_files())


def test_deployment_is_what_the_issue_asks_for() -> None:
    docs, _ = cm.load_docs(cm.K8S / "deployment.yaml")
    (dep,) = docs
    spec = dep.data["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert spec["replicas"] == 3
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health.json"
    res = c["resources"]
    assert set(res) == {"requests", "limits"} and {"cpu", "memory"} <= set(res["requests"]) <= set(
        res["limits"]
    )
    kinds = {d.data["kind"] for d in cm.resolve(cm.K8S / "ingress" / "kustomization.yaml")[0]}
    assert kinds == {"Deployment", "Service", "Ingress", "ConfigMap"}
    assert {d.data["kind"] for d in cm.resolve(cm.K8S / "kustomization.yaml")[0]} == {"Deployment", "Service"}


def test_compose_runs_the_image_with_a_health_check_restart_policy_and_port() -> None:
    docs, errors = cm.load_docs(cm.COMPOSE)
    assert errors == []
    site = docs[0].data["services"]["site"]
    assert site["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile", "target": "site"}
    assert site["restart"] == "unless-stopped"
    assert site["ports"] == ["${VRAM_INSIGHT_PORT:-8080}:8080"]
    assert site["healthcheck"]["test"][-1] == "http://127.0.0.1:8080/health.json"
    assert site["healthcheck"]["interval"] == "30s"
    assert site["read_only"] is True and site["tmpfs"] == ["/tmp:size=16m"]


def test_the_image_copies_the_config_and_the_site_nginx_serves() -> None:
    """The e2e nginx tests serve the built folder with deploy/nginx.conf: the same two things the image copies, to
    the places the config names (its root, /etc/nginx/nginx.conf)."""
    copies = re.findall(r"^COPY\s+(?:--from=\S+\s+)?(\S+)\s+(\S+)\s*$", DOCKERFILE_TEXT, re.M)
    assert ("deploy/nginx.conf", "/etc/nginx/nginx.conf") in copies
    root = re.search(r"^\s*root\s+([^;]+);", NGINX_TEXT, re.M).group(1)
    assert ("_site/", root.rstrip("/") + "/") in copies
    assert ("/site/", root.rstrip("/") + "/") in copies  # the stage that builds the site itself
    assert cm.nginx_listen_port(NGINX_TEXT) == 8080
    assert re.search(r'^ENTRYPOINT \["nginx", "-e", "stderr"', DOCKERFILE_TEXT, re.M)
    # a read-only root filesystem: everything nginx writes is under /tmp
    written = cm.nginx_written_paths(NGINX_TEXT)
    assert written and all(w.startswith("/tmp/") for w in written)
    assert f"include {cm.SUBPATH_INCLUDE_DIR}/*.conf;" in NGINX_TEXT


def test_the_ingress_path_is_the_prefix_the_rewrite_strips() -> None:
    docs, _ = cm.resolve(cm.K8S / "ingress" / "kustomization.yaml")
    (ing,) = [d for d in docs if d.data["kind"] == "Ingress"]
    (cfg,) = [d for d in docs if d.data["kind"] == "ConfigMap"]
    path = ing.data["spec"]["rules"][0]["http"]["paths"][0]
    assert (path["path"], path["pathType"]) == ("/vram-insight", "Prefix")
    assert cm.subpath_prefix(cfg.data["data"]["subpath.conf"]) == "/vram-insight"
    (dep,) = [d for d in docs if d.data["kind"] == "Deployment"]
    volumes = {v["name"]: v for v in dep.data["spec"]["template"]["spec"]["volumes"]}
    assert volumes["subpath"]["configMap"] == {"name": cfg.data["metadata"]["name"], "optional": True}


# --- broken files fail with the line that is wrong ---------------------------------------------------------------------
def test_a_misspelt_field_is_reported_at_its_line(tmp_path: Path) -> None:
    k8s = copy_k8s(tmp_path)
    dep = k8s / "deployment.yaml"
    edit(dep, "readinessProbe:", "readinesProbe:")
    errors = schema_errors_of(dep)
    line = line_no(dep, "readinesProbe:")
    assert errors and all(e.startswith(f"{dep}:{line}: Deployment/vram-insight: ") for e in errors), errors
    assert "spec.template.spec.containers[0].readinesProbe: unknown field 'readinesProbe'" in errors[0]
    assert {re.search(r"Kubernetes ([\d.]+) schema", e).group(1) for e in errors} == set(cm.K8S_VERSIONS)


@pytest.mark.parametrize(
    ("name", "old", "new", "needle", "prefix", "message"),
    [
        # a wrong type: the field's own line
        (
            "deployment.yaml",
            "replicas: 3",
            "replicas: three",
            "replicas: three",
            "Deployment/vram-insight: spec.replicas",
            "'three' is not of type 'integer'",
        ),
        # a missing required field: its parent's line
        (
            "service.yaml",
            "      port: 80\n",
            "",
            "- name: http",
            "Service/vram-insight: spec.ports[0]",
            "'port' is a required property",
        ),
        # an unknown kind: no schema for it
        (
            "service.yaml",
            "kind: Service",
            "kind: Servce",
            "kind: Servce",
            "Servce/vram-insight: kind",
            "Couldn't find schema for kind Servce",
        ),
    ],
)
def test_a_schema_error_is_reported_at_its_line(
    tmp_path: Path, name: str, old: str, new: str, needle: str, prefix: str, message: str
) -> None:
    path = copy_k8s(tmp_path) / name
    edit(path, old, new)
    errors = schema_errors_of(path)
    assert errors and errors[0].startswith(f"{path}:{line_no(path, needle)}: {prefix}: "), errors
    assert message in errors[0]


def test_yaml_that_does_not_parse_names_its_line(tmp_path: Path) -> None:
    svc = copy_k8s(tmp_path) / "service.yaml"
    edit(svc, "  type: ClusterIP\n", "  type: ClusterIP\n   oops: [\n")
    docs, errors = cm.load_docs(svc)
    assert docs == []
    (error,) = errors
    assert re.match(rf"{re.escape(str(svc))}:(\d+): YAML: ", error)
    assert int(error.split(":")[1]) in range(line_no(svc, "oops"), line_no(svc, "oops") + 3)


BROKEN_REFERENCES = [
    # (file under deploy/k8s, old text, new text, the line to point at, object, field, message)
    (
        "service.yaml",
        "targetPort: http",
        "targetPort: web",
        "targetPort: web",
        "Service/vram-insight",
        "spec.ports[0].targetPort",
        "'web' is not a port of the selected pods",
    ),
    (
        "service.yaml",
        "  selector:\n    app.kubernetes.io/name: vram-insight",
        "  selector:\n    app.kubernetes.io/name: vram",
        "  selector:",
        "Service/vram-insight",
        "spec.selector",
        "selects no pod of this kustomization",
    ),
    (
        "deployment.yaml",
        "port: http\n            initialDelaySeconds",
        "port: 9090\n            initialDelaySeconds",
        "port: 9090",
        "Deployment/vram-insight",
        "spec.template.spec.containers[0].livenessProbe.httpGet.port",
        "9090 is not a port of this container",
    ),
    (
        "deployment.yaml",
        "            - name: tmp\n",
        "            - name: scratch\n",
        "- name: scratch",
        "Deployment/vram-insight",
        "spec.template.spec.containers[0].volumeMounts[0].name",
        "no volume named 'scratch'",
    ),
    (
        "ingress/ingress.yaml",
        "path: /vram-insight",
        "path: /tools/vram",
        "path: /tools/vram",
        "Ingress/vram-insight",
        "spec.rules[0].http.paths[0].path",
        "no sub-path rewrite strips '/tools/vram' (ConfigMap prefixes: /vram-insight)",
    ),
    (
        "ingress/ingress.yaml",
        "name: http",
        "name: https",
        "name: https",
        "Ingress/vram-insight",
        "spec.rules[0].http.paths[0].backend.service.port.name",
        "Service 'vram-insight' has no port 'https'",
    ),
    # the Deployment must fit the image (deploy/Dockerfile, deploy/nginx.conf)
    (
        "deployment.yaml",
        "containerPort: 8080",
        "containerPort: 80",
        "          ports:",
        "Deployment/vram-insight",
        "spec.template.spec.containers[0].ports",
        "no containerPort 8080 (deploy/nginx.conf listens there)",
    ),
    (
        "deployment.yaml",
        "runAsUser: 101",
        "runAsUser: 1000",
        "runAsUser: 1000",
        "Deployment/vram-insight",
        "spec.template.spec.securityContext.runAsUser",
        "1000 is not the image's user 101 (deploy/Dockerfile USER)",
    ),
    (
        "deployment.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
        "readOnlyRootFilesystem",
        "Deployment/vram-insight",
        "spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem",
        "must be true",
    ),
    (
        "deployment.yaml",
        "mountPath: /tmp",
        "mountPath: /var/tmp",
        "          volumeMounts:",
        "Deployment/vram-insight",
        "spec.template.spec.containers[0].volumeMounts",
        "nothing writable is mounted for /tmp/nginx-vram-insight.pid (deploy/nginx.conf)",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "needle", "obj", "field", "message"), BROKEN_REFERENCES)
def test_a_broken_reference_is_reported_at_its_line(
    tmp_path: Path, name: str, old: str, new: str, needle: str, obj: str, field: str, message: str
) -> None:
    k8s = copy_k8s(tmp_path)
    path = k8s / name
    edit(path, old, new)
    errors = overlay_errors(k8s)
    assert f"{path}:{line_no(path, needle)}: {obj}: {field}: {message}" in errors, errors
    assert all(e.startswith(f"{path}:") for e in errors), errors  # and nothing elsewhere


def test_kustomizations_resolve_and_list_every_manifest(tmp_path: Path) -> None:
    k8s = copy_k8s(tmp_path)
    kust = k8s / "kustomization.yaml"
    edit(kust, "  - service.yaml\n", "  - services.yaml\n")
    _, errors = cm.resolve(kust)
    assert errors == [
        f"{kust}:{line_no(kust, 'services.yaml')}: Kustomization/?: resources[1]: 'services.yaml' does not exist"
    ]
    assert cm.unlisted_manifests(k8s) == [f"{k8s / 'service.yaml'}:1: not listed in any kustomization.yaml"]


def test_compose_must_fit_the_image(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    shutil.copyfile(cm.COMPOSE, compose)
    edit(compose, "http://127.0.0.1:8080/health.json", "http://127.0.0.1:80/health.json")
    edit(compose, "    restart: unless-stopped\n", "")
    errors = cm.compose_errors(compose, NGINX_TEXT, DOCKERFILE_TEXT)
    assert errors == [
        f"{compose}:{line_no(compose, 'test: [')}: ?/?: services.site.healthcheck.test: does not ask port 8080",
        f"{compose}:{line_no(compose, '  site:')}: ?/?: services.site: no restart policy",
    ]


def test_a_probe_path_that_would_404(tmp_path: Path) -> None:
    k8s = copy_k8s(tmp_path)
    dep = k8s / "deployment.yaml"
    readiness = "path: /health.json\n              port: http\n            periodSeconds: 10"
    edit(dep, readiness, readiness.replace("/health.json", "/healthz"))
    site = tmp_path / "site"
    site.mkdir()
    (site / "health.json").write_text("{}")
    docs, _ = cm.load_docs(dep)
    probes = cm.probe_urls(docs, compose=cm.COMPOSE, dockerfile=cm.DOCKERFILE)
    assert [p for _, p in probes] == ["/healthz", "/health.json", "/health.json", "/health.json"]
    assert cm.probe_errors(probes, site) == [
        f"{dep}:{line_no(dep, 'path: /healthz')}: Deployment/vram-insight: "
        f"spec.template.spec.containers[0].readinessProbe.httpGet.path: /healthz is not a file of the built site "
        f"{site}: the probe gets 404"
    ]
    (site / "health.json").unlink()
    assert len(cm.probe_errors(probes, site)) == 4  # the Compose and Dockerfile health checks too


def test_the_command_line_reports_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    assert cm.main(["--site", str(site)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and all("the probe gets 404" in line for line in err)
    (site / "health.json").write_text("{}")
    assert cm.main(["--site", str(site)]) == 0
    assert capsys.readouterr().out.startswith("ok: 4 manifests valid against Kubernetes 1.30.0, 1.37.0")
