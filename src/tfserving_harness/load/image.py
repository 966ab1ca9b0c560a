"""The in-cluster Locust image that loadtests/k8s runs, built without a Docker daemon the way the TF
Serving stand-in's image is (tfserving_harness.standin.image: Debian's python3.11, the project's pins,
k8s-local's mkimage.sh), so k8s-local's real node can run the master and worker Jobs users apply.

It holds what loadtests/k8s/Dockerfile installs, in its layout: Locust and this package with the
`load` extra (Locust, matplotlib; the Kubernetes client for the autoscaling recorder), pinned by
constraints.txt, the package under /opt/tfs/src, the locustfile in /opt/tfs/loadtests, ENTRYPOINT
`locust -f /opt/tfs/loadtests`, user 10001 `locust` with a home. Not the `model` extra: without
TensorFlow (GrpcUser's protos) the image is REST-only (`RestUser`) and a fifth of the size, as the
Dockerfile's comment allows. Plus GNU tar, which `kubectl cp` of /reports runs in the container.

The tag is a hash of everything the image is made from, so a pod asking for it gets exactly this
build; the archive is cached under .cache/locust-image/. Prints the archive path, then the image.

    python -m tfserving_harness.load.image [--load]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..paths import PACKAGE_DIR, REPO_ROOT
from ..standin import image as standin_image

NAME = "tfserving-harness/tfs-locust"
#: The `load` extra and what users.py imports at the top (grpc for GrpcUser's interceptor, psutil).
PACKAGES = ["locust", "matplotlib", "kubernetes", "requests", "grpcio", "protobuf", "psutil"]
TOOLS = ["tar"]
HOME = "home/locust"
LOCUST_SCRIPT = """#!/usr/bin/python3.11 -I
# Locust with tfserving_harness (loadtests/k8s): the `locust` command of loadtests/k8s/Dockerfile.
import sys
sys.path[:0] = ["/opt/tfs/site-packages", "/opt/tfs/src"]
from locust.main import main
sys.exit(main())
"""


def requirements(constraints: Path) -> list[str]:
    pinned = standin_image.pins(constraints)
    missing = [p for p in PACKAGES if p not in pinned]
    if missing:
        raise SystemExit(f"constraints.txt pins no version of {', '.join(missing)}: run `make setup` (the `load` extra)")
    return [f"{p}=={pinned[p]}" for p in PACKAGES]


def sources() -> list[Path]:
    return sorted([*PACKAGE_DIR.rglob("*.py"), *(REPO_ROOT / "loadtests").glob("*.py"), Path(__file__)])


def tag(reqs: list[str]) -> str:
    digest = hashlib.sha256()
    for text in [*reqs, NAME, (REPO_ROOT / "constraints.txt").read_text(),
                 subprocess.run([str(standin_image.PYTHON), "-VV"], capture_output=True, text=True).stdout]:
        digest.update(text.encode() + b"\0")
    for path in [*sources(), standin_image.K8S_LOCAL / "mkimage.sh", standin_image.PYTHON]:
        digest.update(str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def image() -> str:
    """The image (name:tag) this checkout builds."""
    return f"{NAME}:{tag(requirements(REPO_ROOT / 'constraints.txt'))}"


def build_rootfs(rootfs: Path, reqs: list[str], started: float) -> None:
    site = rootfs / "opt/tfs/site-packages"
    step = standin_image.step
    step(f"pip install --target (with their dependencies, pinned by constraints.txt): {' '.join(reqs)}", started)
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet", "--no-compile", "--no-warn-conflicts", "--target", str(site),
                    "-c", str(REPO_ROOT / "constraints.txt"), *reqs], check=True)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts with the build machine's interpreter in their shebang
    step("this package and loadtests/", started)
    for path in PACKAGE_DIR.rglob("*.py"):
        target = rootfs / "opt/tfs/src/tfserving_harness" / path.relative_to(PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    shutil.copytree(REPO_ROOT / "loadtests", rootfs / "opt/tfs/loadtests", ignore=shutil.ignore_patterns("__pycache__", "samples", "k8s"))
    step(f"{standin_image.PYTHON} and its standard library, {', '.join(TOOLS)}", started)
    bin_dir = standin_image.copy_python(rootfs, TOOLS)
    (bin_dir / "locust").write_text(LOCUST_SCRIPT)
    (bin_dir / "locust").chmod(0o755)
    standin_image.finish_rootfs(rootfs, [site, rootfs / "opt/tfs/src"], started, user=("locust", "Locust", f"/{HOME}"),
                                folders=((HOME, 0o755),))
    subprocess.run(["chown", "10001:10001", str(rootfs / HOME)], check=True)
    step("smoke test: chroot ROOTFS locust -f /opt/tfs/loadtests --list (imports the locustfile)", started)
    done = subprocess.run([shutil.which("chroot") or "/usr/sbin/chroot", str(rootfs), "/usr/bin/locust", "-f", "/opt/tfs/loadtests", "--list"],
                          capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin", "MPLCONFIGDIR": "/tmp"})
    if done.returncode != 0 or "RestUser" not in done.stdout:
        raise SystemExit(f"the built root filesystem does not run the locustfile (exit {done.returncode}):\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-4000:]}")


def build(*, cache_dir: Path, force: bool = False) -> tuple[Path, str]:
    started = time.monotonic()
    reqs = requirements(REPO_ROOT / "constraints.txt")
    key = tag(reqs)
    archive = cache_dir / f"tfs-locust-{key}.tar"
    if archive.exists() and not force:
        standin_image.step(f"cached: {archive} ({archive.stat().st_size / 2**20:.0f} MiB), built from the same inputs", started)
        return archive, f"{NAME}:{key}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix="build-") as work:
        rootfs = Path(work) / "rootfs"
        rootfs.mkdir()
        build_rootfs(rootfs, reqs, started)
        standin_image.pack(rootfs, f"{NAME}:{key}", archive, started, entrypoint='["/usr/bin/locust", "-f", "/opt/tfs/loadtests"]',
                           env=["PYTHONDONTWRITEBYTECODE=1", "MPLCONFIGDIR=/tmp/matplotlib"], user="10001")
    for old in cache_dir.glob("tfs-locust-*.tar"):
        if old != archive:
            old.unlink()
    standin_image.step(f"built {archive} ({archive.stat().st_size / 2**20:.0f} MiB)", started)
    return archive, f"{NAME}:{key}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the in-cluster Locust image for loadtests/k8s (no Docker daemon).")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / ".cache" / "locust-image")
    parser.add_argument("--force", action="store_true", help="rebuild even when a cached archive matches the inputs")
    parser.add_argument("--load", action="store_true", help="also import it into k8s-local's real node (load-image.sh)")
    args = parser.parse_args(argv)
    archive, ref = build(cache_dir=args.cache_dir, force=args.force)
    if args.load:
        standin_image.load(archive, ref)
    print(archive)
    print(ref)


if __name__ == "__main__":
    main()
