"""Build the TF Serving stand-in image without a Docker daemon: `make standin-image`.

The root filesystem is made from the project's own pins: a Python environment installed with pip
(`--target`, `--no-deps`, every version from constraints.txt; tensorflow-serving-api as the Makefile
pins it) holding TensorFlow, grpcio, protobuf, numpy and the stand-in itself; Debian's python3.11
and its standard library; bash, sh, ls, grep, sleep, cat and env for the chart's init container and
the 1.29 `exec` preStop; every shared library those need (ldd) and an ld.so.cache; /etc/passwd;
an empty /tmp and /models. `tensorflow_model_server` (in /usr/bin, like the real image) runs the
stand-in; the image keeps the real image's entrypoint script and MODEL_NAME/MODEL_BASE_PATH.
`/work/shared/k8s-local/mkimage.sh` packs it as a one-layer OCI archive.

The archive is cached under .cache/standin-image/, keyed by a hash of everything it is made from
(pins, stand-in sources, this builder, the interpreter, mkimage.sh), so a rerun with nothing
changed costs nothing. Prints the archive path last.

    python -m tfserving_harness.standin.image --tfs-api tensorflow-serving-api==2.20.0 [--load]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..paths import PACKAGE_DIR, REPO_ROOT

IMAGE = "tfserving-standin/tensorflow-serving:2.20.0-standin"
PYTHON = Path("/usr/bin/python3.11")  # Debian's (python3.11-minimal): libpython linked in, stdlib in /usr/lib/python3.11
#: ../shared/k8s-local beside the clone (CI, /work/main), or one level up from a worktree in /work/wt/.
K8S_LOCAL = Path(os.environ.get("K8S_LOCAL") or next((p for p in (REPO_ROOT.parent / "shared" / "k8s-local",
                                                                 REPO_ROOT.parent.parent / "shared" / "k8s-local") if p.exists()),
                                                      REPO_ROOT.parent / "shared" / "k8s-local"))
SITE = "opt/tfserving-standin/site-packages"
#: What `import tensorflow` (requests included: tf.distribute imports it), running a SavedModel, gRPC and the API
#: protos need (no keras,
#: tensorboard, h5py, libclang, requests: TensorFlow lists them but the stand-in never imports them).
PACKAGES = ["tensorflow-cpu", "numpy", "protobuf", "grpcio", "absl-py", "ml-dtypes", "wrapt", "typing-extensions", "packaging",
            "opt-einsum", "gast", "astunparse", "termcolor", "six", "flatbuffers", "google-pasta",
            "requests", "urllib3", "idna", "certifi", "charset-normalizer"]
TOOLS = ["bash", "dash", "ls", "grep", "sleep", "cat", "env"]
#: Parts of the wheels and the stdlib nothing here loads (TensorFlow's C++ headers alone are 287 MB).
PRUNE = ["tensorflow/include", "tensorflow/xla_aot_runtime_src", "tensorflow/lite/testing"]
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "venv", "dist-packages",
               "__pycache__", "site-packages", "EXTERNALLY-MANAGED"}

SERVER_SCRIPT = f"""#!/usr/bin/python3.11 -I
# TF Serving stand-in (tfserving_harness.standin): NOT tensorflow_model_server. Test tooling of the tf-serving chart.
import sys
sys.path.insert(0, "/{SITE}")
from tfserving_harness.standin.server import main
sys.exit(main())
"""
#: The real image's entrypoint (tensorflow_serving/tools/docker/Dockerfile); the chart does not run it.
ENTRYPOINT_SCRIPT = """#!/bin/bash \n
tensorflow_model_server --port=8500 --rest_api_port=8501 --model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} "$@"
"""


def step(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)


def pins(constraints: Path) -> dict[str, str]:
    found = {}
    for line in constraints.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def requirements(constraints: Path) -> list[str]:
    pinned = pins(constraints)
    missing = [p for p in PACKAGES if p not in pinned]
    if missing:
        raise SystemExit(f"constraints.txt pins no version of {', '.join(missing)}: run `make constraints` after `make setup`, "
                         "or add them to pyproject.toml")
    return [f"{p}=={pinned[p]}" for p in PACKAGES]


def sources() -> list[Path]:
    standin = PACKAGE_DIR / "standin"
    return sorted([PACKAGE_DIR / "__init__.py", PACKAGE_DIR / "tfs_config.py", *standin.glob("*.py")])


def input_hash(reqs: list[str], tfs_api: str) -> str:
    digest = hashlib.sha256()
    for text in [*reqs, tfs_api, IMAGE, subprocess.run([str(PYTHON), "-VV"], capture_output=True, text=True).stdout]:
        digest.update(text.encode() + b"\0")
    for path in [*sources(), K8S_LOCAL / "mkimage.sh", PYTHON]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def elf_files(root: Path) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and (path.suffix == ".so" or ".so." in path.name or os.access(path, os.X_OK)):
            with path.open("rb") as file:
                if file.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def copy_libraries(rootfs: Path, binaries: list[Path]) -> int:
    """Every library ldd resolves for `binaries`, at its real path, plus the soname link ldd named."""
    copied: set[str] = set()
    missing: set[str] = set()
    for binary in binaries:
        output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        for line in output.splitlines():
            match = re.match(r"\s*(\S+) => (\S+) \(", line) or re.match(r"\s*(/\S+) \(", line)
            if "not found" in line:
                missing.add(f"{line.split()[0]} (for {binary.name})")
                continue
            if not match:
                continue
            path = match.groups()[-1]
            if path.startswith(str(rootfs)) or path in copied:
                continue
            copied.add(path)
            real = Path(os.path.realpath(path))
            target = rootfs / str(real).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copy2(real, target)
            link = rootfs / os.path.realpath(os.path.dirname(path)).lstrip("/") / os.path.basename(path)
            if link != target and not link.exists() and not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(os.path.relpath(target, link.parent))
    if missing:
        print(f"warning: ldd could not resolve {', '.join(sorted(missing)[:10])}", flush=True)
    return len(copied)


def build_rootfs(rootfs: Path, reqs: list[str], tfs_api: str, constraints: Path, started: float) -> None:
    site = rootfs / SITE
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--no-deps", "--no-compile", "--target", str(site)]
    step(f"pip install --target (no deps, pinned by {constraints.name}): {' '.join(reqs)}", started)
    subprocess.run([*pip, "-c", str(constraints), *reqs], check=True)
    subprocess.run([*pip, tfs_api], check=True)
    for part in PRUNE:
        shutil.rmtree(site / part, ignore_errors=True)
    shutil.rmtree(site / "bin", ignore_errors=True)
    strip = shutil.which("strip")
    if strip:
        # TensorFlow's own libraries only: auditwheel-patched ones (numpy.libs, ...) break when stripped.
        libraries = [p for p in elf_files(site / "tensorflow") if ".so" in p.name]
        step(f"strip --strip-unneeded on TensorFlow's {len(libraries)} shared libraries (they ship their symbol tables: ~220 MB)",
             started)
        subprocess.run([strip, "--strip-unneeded", *map(str, libraries)], check=True)
    else:
        step("no `strip` (Debian binutils): the image keeps the wheels' symbol tables, ~220 MB more", started)
    step("the stand-in's sources", started)
    package = site / "tfserving_harness"
    (package / "standin").mkdir(parents=True)
    for path in sources():
        shutil.copy2(path, package / path.relative_to(PACKAGE_DIR))

    step(f"{PYTHON} and its standard library, {', '.join(TOOLS)}", started)
    bin_dir = copy_python(rootfs, TOOLS)
    (bin_dir / "sh").symlink_to("dash")
    (bin_dir / "tensorflow_model_server").write_text(SERVER_SCRIPT)
    (bin_dir / "tf_serving_entrypoint.sh").write_text(ENTRYPOINT_SCRIPT)
    for script in ("tensorflow_model_server", "tf_serving_entrypoint.sh"):
        (bin_dir / script).chmod(0o755)
    finish_rootfs(rootfs, [site], started, user=("tfserving", "TF Serving stand-in", "/tmp"), folders=(("models", 0o755),))
    step("smoke test: chroot ROOTFS tensorflow_model_server --version", started)
    done = subprocess.run(["chroot", str(rootfs), "/usr/bin/tensorflow_model_server", "--version"], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0 or "TensorFlow ModelServer: 2.20.0-standin" not in done.stdout:
        raise SystemExit(f"the built root filesystem does not run the stand-in (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}")
    step(done.stdout.strip().replace("\n", "; "), started)


def copy_python(rootfs: Path, tools: list[str]) -> Path:
    """Debian's python3.11 with its standard library (less tests, IDLE, tkinter...) and the named
    tools into /usr/bin, with the usual /bin, /sbin, /lib, /lib64 links; returns /usr/bin."""
    stdlib = Path("/usr/lib/python3.11")
    for entry in stdlib.iterdir():
        if entry.name in STDLIB_SKIP or entry.name.startswith("config-3.11"):
            continue
        target = rootfs / "usr/lib/python3.11" / entry.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_dir():
            shutil.copytree(entry, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
        else:
            shutil.copy2(entry, target)
    bin_dir = rootfs / "usr/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PYTHON, bin_dir / "python3.11")
    for tool in tools:
        shutil.copy2(os.path.realpath(shutil.which(tool) or f"/usr/bin/{tool}"), bin_dir / tool)
    (bin_dir / "python3").symlink_to("python3.11")
    for name, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        (rootfs / target).mkdir(parents=True, exist_ok=True)
        (rootfs / name).symlink_to(target)
    return bin_dir


def finish_rootfs(rootfs: Path, sites: list[Path], started: float, *, user: tuple[str, str, str],
                  folders: tuple[tuple[str, int], ...] = ()) -> None:
    """Every shared library the ELF files need (ldd) and an ld.so.cache; /etc/passwd and /etc/group with
    root, `user` (name, description, home) as 10001 and nobody; /tmp, /root and `folders`; the Python
    files byte-compiled (a read-only root cannot write .pyc files)."""
    step("shared libraries (ldd) and ld.so.cache", started)
    count = copy_libraries(rootfs, elf_files(rootfs))
    etc = rootfs / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "ld.so.conf").write_text("/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/local/lib\n")
    subprocess.run(["ldconfig", "-r", str(rootfs)], check=True)
    step(f"{count} libraries copied", started)
    name, description, home = user
    (etc / "passwd").write_text(f"root:x:0:0:root:/root:/bin/bash\n{name}:x:10001:10001:{description}:{home}:/bin/false\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (etc / "group").write_text(f"root:x:0:\n{name}:x:10001:\nnogroup:x:65534:\n")
    for folder, mode in (("tmp", 0o1777), ("root", 0o700), *folders):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
        (rootfs / folder).chmod(mode)
    step("byte-compiling (the root filesystem is read-only in the pod)", started)
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-s", str(rootfs),
                    "-p", "/", str(rootfs / "usr/lib/python3.11"), *map(str, sites)], check=False, stdout=subprocess.DEVNULL)


def pack(rootfs: Path, image: str, archive: Path, started: float, *, entrypoint: str, env: list[str], user: str = "") -> None:
    """The root filesystem as a one-layer OCI archive (k8s-local's mkimage.sh), written whole or not at all."""
    mkimage = K8S_LOCAL / "mkimage.sh"
    size = subprocess.run(["du", "-sm", str(rootfs)], capture_output=True, text=True).stdout.split()[0]
    step(f"packing {size} MiB with {mkimage.name}", started)
    partial = archive.with_suffix(".partial")
    extra = [arg for value in env for arg in ("--env", value)] + (["--user", user] if user else [])
    subprocess.run([str(mkimage), str(rootfs), image, str(partial), "--entrypoint", entrypoint, *extra], check=True)
    partial.rename(archive)


def load(archive: Path, image: str) -> None:
    """Import the archive into k8s-local's real node (load-image.sh; K8S_LOCAL_DIR names the cluster's state dir)."""
    started = time.monotonic()
    subprocess.run([str(K8S_LOCAL / "load-image.sh"), str(archive)], check=True)
    step(f"imported into the real node as docker.io/{image}", started)


def build(tfs_api: str, *, cache_dir: Path, force: bool = False) -> Path:
    started = time.monotonic()
    if not PYTHON.exists():
        raise SystemExit(f"{PYTHON} is missing: apt-get install python3.11-minimal libpython3.11-stdlib (Debian's interpreter "
                         "goes into the image)")
    mkimage = K8S_LOCAL / "mkimage.sh"
    if not mkimage.exists():
        raise SystemExit(f"{mkimage} is missing: set K8S_LOCAL to the k8s-local folder (it packs the image)")
    constraints = REPO_ROOT / "constraints.txt"
    reqs = requirements(constraints)
    key = input_hash(reqs, tfs_api)
    archive = cache_dir / f"tfserving-standin-{key}.tar"
    if archive.exists() and not force:
        step(f"cached: {archive} ({archive.stat().st_size / 2**20:.0f} MiB), built from the same inputs", started)
        return archive
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix="build-") as work:
        rootfs = Path(work) / "rootfs"
        rootfs.mkdir()
        build_rootfs(rootfs, reqs, tfs_api, constraints, started)
        pack(rootfs, IMAGE, archive, started, entrypoint='["/usr/bin/tf_serving_entrypoint.sh"]',
             env=["MODEL_BASE_PATH=/models", "MODEL_NAME=model", "PYTHONDONTWRITEBYTECODE=1"])
    for old in cache_dir.glob("tfserving-standin-*.tar"):
        if old != archive:
            old.unlink()
    step(f"built {archive} ({archive.stat().st_size / 2**20:.0f} MiB)", started)
    return archive


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the TF Serving stand-in image (no Docker daemon).")
    parser.add_argument("--tfs-api", required=True, help="the tensorflow-serving-api requirement, as the Makefile pins it")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / ".cache" / "standin-image")
    parser.add_argument("--force", action="store_true", help="rebuild even when a cached archive matches the inputs")
    parser.add_argument("--load", action="store_true", help="also import it into k8s-local's real node (load-image.sh)")
    args = parser.parse_args(argv)
    archive = build(args.tfs_api, cache_dir=args.cache_dir, force=args.force)
    if args.load:
        load(archive, IMAGE)
    print(archive)


if __name__ == "__main__":
    main()
