"""The image itself (deploy/Dockerfile, target ``prebuilt``: the built site + deploy/nginx.conf), built and run the
way deploy/k8s runs it (image's own user, read-only root filesystem, /tmp as tmpfs, no capabilities) where a
container runtime works; skipped, with the reason, where none can run.

The base image comes from local storage only (no registry is reached): E2E_NGINX_IMAGE if set, else nginx:alpine
if it is there, else one made here from Debian's nginx (the binary the other nginx tests run, its libraries and a
passwd with uid 101) and imported as a one-layer image.

Environment:
  E2E_CONTAINER_RUNTIME   podman or docker (default: the first of them that works)
  E2E_NGINX_IMAGE         the nginx base image to build on (must be in local storage)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT
from testsupport.servers import SUBPATH_INCLUDE_DIR, find_nginx, free_port, wait_http

IMAGE = "localhost/vram-insight:e2e"
# deploy/k8s/deployment.yaml's securityContext, as run options (the user is the image's own: USER 101:101)
LIKE_K8S = [
    "--read-only",
    "--tmpfs",
    "/tmp:size=16m",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]
HOST_BASE = "localhost/vram-insight-nginx-base:host"
PROBE_IMAGE_TIMEOUT_S = 120
# Tried in order until a container starts: some sandboxes refuse the runtime's default rlimits (podman asks for
# 1048576 processes) or its default OCI runtime (crun on hybrid cgroups); these are what the run is allowed to vary.
RUN_VARIANTS: list[tuple[list[str], list[str]]] = [
    ([], []),
    ([], ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]),
    (["--runtime", "runc"], ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]),
]


def sh(cmd: list[str], timeout: float = PROBE_IMAGE_TIMEOUT_S, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def container_runtime() -> str:
    names = (
        [os.environ["E2E_CONTAINER_RUNTIME"]]
        if os.environ.get("E2E_CONTAINER_RUNTIME")
        else ["podman", "docker"]
    )
    reasons = []
    for name in names:
        path = shutil.which(name)
        if path is None:
            reasons.append(f"{name}: not installed")
            continue
        try:
            info = sh([path, "info"], timeout=60)
        except subprocess.TimeoutExpired:
            reasons.append(f"{name}: `{name} info` did not answer in 60 s")
            continue
        if info.returncode == 0:
            return path
        reasons.append(f"{name}: {last_line(info.stderr or info.stdout)}")
    pytest.skip("no container runtime works here (" + "; ".join(reasons) + ")")


def image_exists(rt: str, image: str) -> bool:
    return sh([rt, "image", "inspect", image]).returncode == 0


def host_nginx_base(rt: str) -> str:
    """A one-layer image holding Debian's nginx, its shared libraries and a passwd with uid 101 (nginx)."""
    nginx = find_nginx()
    ldd = shutil.which("ldd")
    if nginx is None or ldd is None:
        pytest.skip("no nginx image in local storage and no local nginx (+ ldd) to make one from")
    libs = re.findall(r"(/\S+) \(0x", sh([ldd, nginx]).stdout)
    with tempfile.TemporaryDirectory(prefix="vram-base-") as tmp:
        tar_path = Path(tmp) / "rootfs.tar"
        with tarfile.open(tar_path, "w") as tar:

            def add_text(name: str, text: str, mode: int = 0o644) -> None:
                src = Path(tmp) / name.replace("/", "_")
                src.write_text(text)
                info = tar.gettarinfo(str(src), arcname=name)
                info.mode, info.uid, info.gid = mode, 0, 0
                with src.open("rb") as fh:
                    tar.addfile(info, fh)

            def add_dir(name: str, mode: int = 0o755) -> None:
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, mode
                tar.addfile(info)

            for d in (
                "etc",
                "etc/nginx",
                "usr",
                "usr/sbin",
                "usr/share",
                "usr/share/nginx",
                "var",
                "lib",
                "lib64",
            ):
                add_dir(d)
            add_dir("tmp", 0o1777)
            add_text("etc/passwd", "root:x:0:0::/root:/bin/false\nnginx:x:101:101::/nonexistent:/bin/false\n")
            add_text("etc/group", "root:x:0:\nnginx:x:101:\n")
            for f in (nginx, *libs):
                real = Path(f).resolve()
                info = tar.gettarinfo(str(real), arcname=f.lstrip("/"))
                info.uid = info.gid = 0
                for parent in reversed(Path(f.lstrip("/")).parents[:-1]):
                    if str(parent) not in tar.getnames():
                        add_dir(str(parent))
                with real.open("rb") as fh:
                    tar.addfile(info, fh)
        imported = sh(
            [rt, "import", "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", str(tar_path), HOST_BASE]
        )
        if imported.returncode != 0:
            pytest.skip(f"could not import a local nginx base image: {last_line(imported.stderr)}")
    return HOST_BASE


def base_image(rt: str) -> str:
    given = os.environ.get("E2E_NGINX_IMAGE")
    if given:
        if not image_exists(rt, given):
            pytest.skip(f"E2E_NGINX_IMAGE={given} is not in local storage")
        return given
    for candidate in ("docker.io/library/nginx:alpine", "nginx:alpine"):
        if image_exists(rt, candidate):
            return candidate
    return host_nginx_base(rt)


@pytest.fixture(scope="module")
def image(site_dir, tmp_path_factory):
    """(runtime, global args, run args) with the image built from the Dockerfile's ``prebuilt`` stage."""
    rt = container_runtime()
    base = base_image(rt)
    ctx = tmp_path_factory.mktemp("context")
    (ctx / "deploy").mkdir()
    for name in ("Dockerfile", "nginx.conf"):
        shutil.copyfile(ROOT / "deploy" / name, ctx / "deploy" / name)
    shutil.copytree(site_dir, ctx / "_site")
    sh([rt, "rmi", "-f", IMAGE])  # the previous run's image: rebuilding would leave it dangling
    build = [rt, "build", "-f", "deploy/Dockerfile", "--target", "prebuilt"]
    built = sh([*build, "--build-arg", f"NGINX_IMAGE={base}", "-t", IMAGE, "."], cwd=ctx, timeout=600)
    if built.returncode != 0:
        pytest.fail(f"building the image from deploy/Dockerfile failed:\n{built.stderr[-3000:]}")
    reason = ""
    for global_args, run_args in RUN_VARIANTS:
        started = sh([rt, *global_args, "run", "--rm", *run_args, "--entrypoint", "nginx", IMAGE, "-v"])
        if started.returncode == 0:
            return rt, global_args, run_args, base
        reason = last_line(started.stderr)
    pytest.skip(f"{Path(rt).name} cannot start a container here: {reason}")


def run_site(image, *extra: str) -> tuple[str, str]:
    """Start the image as deploy/k8s runs it; (container id, base URL)."""
    rt, global_args, run_args, _ = image
    port = free_port()
    publish = ["-p", f"127.0.0.1:{port}:8080"]
    proc = sh([rt, *global_args, "run", "-d", *run_args, *LIKE_K8S, *publish, *extra, IMAGE])
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip(), f"http://127.0.0.1:{port}/"


def stop(image, cid: str) -> str:
    rt, global_args, _, _ = image
    logs = sh([rt, *global_args, "logs", cid]).stderr
    sh([rt, *global_args, "rm", "-f", cid])
    return logs


def test_the_image_serves_health_json_unprivileged_on_a_read_only_root(image, site_dir):
    from urllib.request import urlopen

    rt, global_args, _, base = image
    config = json.loads(sh([rt, *global_args, "image", "inspect", IMAGE]).stdout)[0]["Config"]
    assert config["User"] == "101:101"
    assert "8080/tcp" in config["ExposedPorts"]
    cid, url = run_site(image)
    try:
        wait_http(url + "health.json", timeout=30)
        with urlopen(url + "health.json", timeout=10) as r:
            assert json.loads(r.read()) == json.loads((site_dir / "health.json").read_text())
        with urlopen(url + "console/", timeout=10) as r:
            assert "'unsafe-eval'" in r.headers["Content-Security-Policy"]
        with urlopen(url, timeout=10) as r:
            assert "'unsafe-eval'" not in r.headers["Content-Security-Policy"]
        ps = ["-eo", "uid,args"] if Path(rt).name == "docker" else ["user", "args"]
        top = sh([rt, *global_args, "top", cid, *ps])
        assert top.returncode == 0, top.stderr
        users = {line.split()[0] for line in top.stdout.splitlines()[1:] if "nginx" in line}
        assert users and users <= {"101", "nginx"}, top.stdout  # master and workers, never root
    finally:
        logs = stop(image, cid)
    assert "[emerg]" not in logs and "[alert]" not in logs, logs
    print(f"built on {base}")


def test_the_image_serves_under_the_sub_path_with_the_configmap_mounted(image, tmp_path):
    from urllib.request import urlopen

    yaml = pytest.importorskip("yaml", reason="PyYAML comes with the dev extras")
    data = yaml.safe_load((ROOT / "deploy" / "k8s" / "ingress" / "subpath.yaml").read_text())["data"]
    inc = tmp_path / "inc"
    inc.mkdir()
    for name, text in data.items():
        (inc / name).write_text(text)
    inc.chmod(0o755)
    cid, url = run_site(image, "-v", f"{inc}:{SUBPATH_INCLUDE_DIR}:ro")
    try:
        wait_http(url + "health.json", timeout=30)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urlopen(url + "vram-insight/health.json", timeout=10) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with urlopen(url + "vram-insight", timeout=10) as r:  # redirected to the folder, then the app
            assert r.url == url + "vram-insight/"
            assert b"<html" in r.read(2000).lower()
    finally:
        stop(image, cid)
