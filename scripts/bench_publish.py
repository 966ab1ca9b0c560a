#!/usr/bin/env python3
"""Publishing benchmark against a throwaway local registry (Debian's docker-registry): wall time of
`scripts/publish --dry-run`, of two real signed publishes of the same commit (to two repositories),
their per-step times, whether both gave the same chart digest, and the publishing tier's wall time.

    .venv/bin/python scripts/bench_publish.py [--skip-tier]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tfserving_harness import publish
from tfserving_harness.local_registry import LocalRegistry
from tfserving_harness.paths import REPO_ROOT


def throwaway_key(directory: Path) -> publish.Signing:
    home = Path(tempfile.mkdtemp(prefix="tfs-bench-gpg-"))
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "Bench Signer <bench@example.invalid>", "rsa2048", "sign", "never"], check=True, capture_output=True)
    secring = directory / "secring.gpg"
    secring.write_bytes(subprocess.run(gpg + ["--export-secret-keys"], check=True, capture_output=True).stdout)
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)
    shutil.rmtree(home, ignore_errors=True)
    return publish.Signing("Bench Signer", secring)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-tier", action="store_true", help="do not time `make test-publishing`")
    args = parser.parse_args()
    registry = LocalRegistry().start()
    try:
        with tempfile.TemporaryDirectory(prefix="tfs-bench-publish-") as tmp:
            work = Path(tmp)
            start = time.perf_counter()
            subprocess.run([str(REPO_ROOT / "scripts" / "publish"), "--registry", f"oci://{registry.host}/dry", "--plain-http", "--dry-run"], check=True, capture_output=True)
            print(f"scripts/publish --dry-run: {time.perf_counter() - start:.2f}s")
            signing = throwaway_key(work)
            results = []
            for name in ("first", "second"):
                options = publish.Options(registry=f"oci://{registry.host}/{name}", signing=signing, plain_http=True, workdir=work / name)
                start = time.perf_counter()
                result = publish.Publisher(options, progress=lambda line: None).run()
                wall = time.perf_counter() - start
                steps = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in result.timings.items())
                print(f"signed publish ({name}): {wall:.1f}s ({steps})")
                results.append(result)
            same = results[0].chart_digest == results[1].chart_digest
            print(f"chart digest: {results[0].chart_digest} {'== (reproducible)' if same else '!= ' + results[1].chart_digest}")
            print(f"manifest digests: {results[0].manifest_digest} / {results[1].manifest_digest} (signed: the .prov carries the signing time)")
    finally:
        registry.remove()
    if not args.skip_tier:
        start = time.perf_counter()
        tier = subprocess.run(["make", "--no-print-directory", "test-publishing"], cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "TFS_REQUIRE_PUBLISHING": "1"})
        summary = (tier.stdout.strip().splitlines() or ["?"])[-1]
        print(f"make test-publishing: {time.perf_counter() - start:.1f}s ({summary.strip('= ')})")
        if tier.returncode != 0:
            return 1
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
