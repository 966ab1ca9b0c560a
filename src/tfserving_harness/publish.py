"""Release the chart to an OCI registry: check, package reproducibly, sign, push, pull back, verify.

Order matters: everything that can be checked on this machine is checked before anything is sent
(lint, checks, packaging twice, signature, renders), the registry is asked whether the version is
already there, and only then is the chart pushed. Helm uploads blobs first and the manifest (the
tag) last, so a push that fails leaves no version behind; a verification that fails after the
push deletes the new tag, or puts the previous manifest back when `--force` replaced one.
"""

from __future__ import annotations

import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import yaml

from . import helm, oci, yamlio
from .paths import REPO_ROOT, ci_values_files
from .testing import kube_version_tuple, scenario_directives
from .values_check import check_values

ENV_USERNAME = "TFS_REGISTRY_USERNAME"
ENV_PASSWORD = "TFS_REGISTRY_PASSWORD"
ENV_KEY = "TFS_SIGNING_KEY"
ENV_KEYRING = "TFS_SIGNING_KEYRING"
ENV_PASSPHRASE_FILE = "TFS_SIGNING_PASSPHRASE_FILE"
ENV_VERIFY_KEYRING = "TFS_VERIFY_KEYRING"
# Helm's own default for `helm package --sign --keyring`.
DEFAULT_KEYRING = Path.home() / ".gnupg" / "secring.gpg"


class PublishError(RuntimeError):
    """A step failed; `step` names it, the message says what was wrong and what to do."""

    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class Signing:
    key: str
    keyring: Path
    passphrase_file: Path | None = None
    verify_keyring: Path | None = None


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass
class Options:
    registry: str  # oci://HOST/NAMESPACE
    chart: Path = REPO_ROOT / "charts" / "tf-serving"
    version: str | None = None
    signing: Signing | None = None
    credentials: Credentials | None = None
    registry_config: Path | None = None
    plain_http: bool = False
    force: bool = False
    artifacthub_metadata: Path | None = None
    workdir: Path | None = None  # where the archive and .prov are left (default: a temporary directory)


@dataclass
class Result:
    reference: str
    manifest_digest: str
    chart_digest: str
    archive: Path
    provenance: Path | None
    replaced_digest: str | None = None
    artifacthub_digest: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def parse_registry(url: str) -> tuple[str, str]:
    """oci://HOST[:PORT]/NAMESPACE -> (HOST[:PORT], NAMESPACE)."""
    match = re.fullmatch(r"oci://([^/]+)/(.+?)/?", url)
    if not match:
        raise PublishError("options", f"--registry {url!r} is not oci://HOST/NAMESPACE (e.g. oci://ghcr.io/my-org/charts)")
    return match[1], match[2]


def chart_metadata(chart: Path) -> dict:
    return yamlio.load((chart / "Chart.yaml").read_text())


def source_date_epoch(chart: Path) -> int:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else the commit time of the last commit
    that touched the chart: the same source always gets the same archive timestamps."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    result = subprocess.run(["git", "-C", str(chart), "log", "-1", "--format=%ct", "--", "."], capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        raise PublishError("package", f"{chart} has no git history to take timestamps from: set SOURCE_DATE_EPOCH (seconds since 1970)")
    return int(result.stdout.strip())


# --- checks before anything leaves the machine ------------------------------------------------


def _check_one(chart: Path, values_file: Path | None) -> list[str]:
    """helm lint --strict and check_values' checks for the defaults (None) or one ci/ scenario."""
    name = values_file.name if values_file else "defaults"
    files = [values_file] if values_file else []
    failures = []
    lint = helm.lint(files, chart=chart)
    if lint.returncode != 0:
        failures.append(f"{name}: helm lint --strict failed:\n{(lint.stdout + lint.stderr).strip()}")
    directives = scenario_directives(values_file) if values_file else {}
    minimum = kube_version_tuple(directives.get("min-kube-version", "0.0.0"))
    kube_versions = [v for v in helm.SUPPORTED_KUBE_VERSIONS if kube_version_tuple(v) >= minimum]
    # A scenario is held to the restricted Pod Security profile unless it declares why not.
    profile = None if "pod-security-exception" in directives else "restricted"
    try:
        reports = check_values(files, kube_versions=kube_versions, pod_security_profile=profile, chart=chart)
    except helm.RenderError as error:
        return failures + [f"{name}: the chart does not render on Kubernetes {error.kube_version}:\n{error.stderr.strip()}"]
    failures += [f"{name}: Kubernetes {report.kube_version}: {problem}" for report in reports for problem in report.problems]
    return failures


def preflight(chart: Path, progress: Callable[[str], None] = print) -> int:
    """Every check on the defaults and every ci/ scenario; raises PublishError listing every failure."""
    targets: list[Path | None] = [None, *ci_values_files(chart)]
    progress(f"    helm lint --strict and check_values' checks: defaults + {len(targets) - 1} ci/ scenarios, {len(helm.SUPPORTED_KUBE_VERSIONS)} Kubernetes versions")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        failures = [f for result in pool.map(lambda target: _check_one(chart, target), targets) for f in result]
    if failures:
        raise PublishError("checks", f"{len(failures)} problem(s); nothing was packaged or pushed:\n" + "\n".join(failures))
    return len(targets)


# --- packaging --------------------------------------------------------------------------------


def normalize_archive(source: Path, destination: Path, epoch: int) -> None:
    """Rewrite Helm's archive with fixed metadata. Helm 3.17 stamps every tar entry with the time of
    packaging (pkg/chartutil/save.go writeToTar: `ModTime: time.Now()`; Helm 4 takes the files'
    own mtimes), so two packagings differ. Same entries in Helm's order and the same contents;
    mtime = `epoch`, mode 0644, owner 0:0, gzip without a timestamp or file name."""
    with tarfile.open(source, "r:gz") as original:
        members = [(member, original.extractfile(member).read()) for member in original.getmembers() if member.isfile()]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as normalized:
        for member, data in members:
            info = tarfile.TarInfo(member.name)
            info.size, info.mtime, info.mode = len(data), epoch, 0o644
            normalized.addfile(info, io.BytesIO(data))
    with destination.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", filename="", mtime=0, compresslevel=9) as gz:
        gz.write(buffer.getvalue())
    # helm push stamps org.opencontainers.image.created with the archive's mtime.
    os.utime(destination, (epoch, epoch))


def package(chart: Path, destination: Path, epoch: int, version: str | None = None) -> Path:
    """`helm package` (Helm checks the version and dependencies), then the normalized archive."""
    with tempfile.TemporaryDirectory(prefix="tfs-package-") as raw_dir:
        args = ["package", str(chart), "--destination", raw_dir]
        if version:
            args += ["--version", version]
        result = helm.run_helm(args, check=False)
        if result.returncode != 0:
            raise PublishError("package", f"helm package failed:\n{result.stderr.strip()}")
        (raw,) = Path(raw_dir).glob("*.tgz")
        archive = destination / raw.name
        normalize_archive(raw, archive, epoch)
    return archive


def file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# --- provenance -------------------------------------------------------------------------------


def provenance_message(archive: Path) -> str:
    """The text Helm signs (pkg/provenance/sign.go messageBlock): the chart's metadata as Helm
    marshals it (`helm show chart` prints exactly that, plus a newline), the YAML end marker, and
    the archive's sha256."""
    metadata = helm.run_helm(["show", "chart", str(archive)]).stdout
    sums = yaml.safe_dump({"files": {archive.name: file_digest(archive)}})
    return metadata.removesuffix("\n") + "\n...\n" + sums


def sign(archive: Path, signing: Signing, workdir: Path) -> tuple[Path, Path]:
    """Write ARCHIVE.prov as `helm package --sign` would, and return it with the public keyring to
    verify it. The signer is gpg: `helm package --sign` can only sign the archive it has just
    written with the packaging time inside, and the archive is normalized afterwards. The key comes
    from Helm's kind of keyring (a legacy secring.gpg, `--keyring`), imported into a throwaway
    GNUPGHOME so the user's own is never touched."""
    if not signing.keyring.is_file():
        raise PublishError("sign", f"signing keyring {signing.keyring} does not exist: pass --keyring (or {ENV_KEYRING}) with a secring.gpg (gpg --export-secret-keys KEY > secring.gpg)")
    # Directly under the system temp dir: gpg-agent's socket path must stay under ~108 bytes.
    home = Path(tempfile.mkdtemp(prefix="tfs-gpg-"))
    gpg = ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--pinentry-mode", "loopback"]
    if signing.passphrase_file:
        gpg += ["--passphrase-file", str(signing.passphrase_file)]
    try:
        _gpg(gpg + ["--import", str(signing.keyring)], "import the signing keyring")
        signed = _gpg(
            gpg + ["--local-user", signing.key, "--digest-algo", "SHA512", "--clearsign"],
            f"sign with key {signing.key!r} (is it in {signing.keyring}? is the passphrase file right?)",
            stdin=provenance_message(archive).encode(),
        )
        provenance = archive.with_name(archive.name + ".prov")
        provenance.write_bytes(signed)
        public = signing.verify_keyring
        if public is None:
            public = workdir / "pubring.gpg"
            public.write_bytes(_gpg(gpg + ["--export", signing.key], "export the public key"))
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    return provenance, public


def _gpg(command: list[str], what: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(command, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise PublishError("sign", f"gpg could not {what}:\n{result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def helm_verify(archive: Path, keyring: Path, step: str) -> str:
    result = helm.run_helm(["verify", str(archive), "--keyring", str(keyring)], check=False)
    if result.returncode != 0:
        raise PublishError(step, f"helm verify {archive.name} failed: {(result.stdout + result.stderr).strip()}")
    return result.stdout.strip()


# --- renders ----------------------------------------------------------------------------------


def chart_at_version(chart: Path, version: str | None, workdir: Path) -> Path:
    """The source chart, or a copy whose Chart.yaml says the overridden version (renders carry it)."""
    if not version:
        return chart
    copy = Path(tempfile.mkdtemp(prefix="source-", dir=workdir)) / chart.name
    shutil.copytree(chart, copy)
    chart_yaml = copy / "Chart.yaml"
    chart_yaml.write_text(re.sub(r"(?m)^version:.*$", f"version: {version}", chart_yaml.read_text(), count=1))
    return copy


def render_all(chart: Path, values_files: Sequence[Path | None]) -> dict[str, str]:
    """`helm template` output per scenario name ("defaults" for no values file)."""

    def render(values_file: Path | None) -> tuple[str, str]:
        return (values_file.name if values_file else "defaults"), helm.template_text(chart, [values_file] if values_file else [])

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(render, values_files))


def render_differences(reference: dict[str, str], candidate: Path, values_files: Sequence[Path | None]) -> list[str]:
    """Names of the scenarios whose `helm template` output differs byte for byte from `reference`."""
    rendered = render_all(candidate, values_files)
    return [name for name, text in rendered.items() if reference[name] != text]


# --- registry ---------------------------------------------------------------------------------


def credentials_from_config(config: Path, host: str) -> Credentials | None:
    """Basic credentials `helm registry login` stored for HOST (docker config.json format)."""
    if not config.is_file():
        return None
    entry = (json.loads(config.read_text()).get("auths") or {}).get(host) or {}
    if not entry.get("auth"):
        return None
    username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    return Credentials(username, password)


class Publisher:
    def __init__(self, options: Options, progress: Callable[[str], None] = print):
        self.options = options
        self.progress = progress
        self.host, self.namespace = parse_registry(options.registry)
        self.meta = chart_metadata(options.chart)
        self.version = options.version or self.meta["version"]
        self.repository = f"{self.namespace}/{self.meta['name']}"
        self.reference = f"{options.registry.rstrip('/')}/{self.meta['name']}:{self.version}"
        self.timings: dict[str, float] = {}

    def plan(self) -> list[str]:
        o = self.options
        if o.credentials:
            where = o.registry_config or "a temporary registry config (yours is not read or written)"
            auth = f"helm registry login as {o.credentials.username} (${ENV_USERNAME}/${ENV_PASSWORD}) into {where}"
        elif o.registry_config:
            auth = f"the login stored in {o.registry_config}"
        else:
            auth = f"anonymous (set ${ENV_USERNAME}/${ENV_PASSWORD} to log in)"
        signing = f"key {o.signing.key!r} from {o.signing.keyring}" if o.signing else "not signed (no --sign)"
        return [
            f"chart      {o.chart} ({self.meta['name']} {self.version}, appVersion {self.meta.get('appVersion')})",
            f"target     {self.reference}{' over plain HTTP' if o.plain_http else ''}",
            f"auth       {auth}",
            f"signing    {signing}",
            f"1. ask the registry for {self.meta['name']}:{self.version}: " + ("replace it (--force)" if o.force else "refuse if it exists") + " (again right before the push)",
            f"2. helm lint --strict + check_values' checks: defaults and {len(ci_values_files(o.chart))} ci/ scenarios",
            f"3. package twice with timestamps from {'SOURCE_DATE_EPOCH' if os.environ.get('SOURCE_DATE_EPOCH') else 'the last commit touching the chart'}; the digests must agree",
            "4. " + ("sign (.prov), helm verify" if o.signing else "no provenance (no --sign)"),
            "5. the packaged chart renders byte-identically to the source for the defaults and every scenario",
            "6. helm push (chart" + (" + provenance layer)" if o.signing else ")"),
            "7. pull back by version" + (" with --verify" if o.signing else "") + ": same digest, helm verify, byte-identical renders; undo the push on failure",
            "8. " + (f"push {o.artifacthub_metadata} as {self.repository}:{oci.ARTIFACTHUB_TAG}" if o.artifacthub_metadata else "no Artifact Hub metadata (no --artifacthub-metadata)"),
        ]

    def _timed(self, name: str, action: Callable):
        self.progress(f"==> {name}")
        start = time.monotonic()
        value = action()
        self.timings[name] = time.monotonic() - start
        self.progress(f"    done in {self.timings[name]:.1f}s")
        return value

    def run(self) -> Result:
        o = self.options
        workdir = o.workdir or Path(tempfile.mkdtemp(prefix="tfs-publish-"))
        workdir.mkdir(parents=True, exist_ok=True)
        epoch = source_date_epoch(o.chart)
        with tempfile.TemporaryDirectory(prefix="tfs-registry-config-") as config_dir:
            config = o.registry_config or Path(config_dir) / "config.json"
            if o.credentials:
                self._timed("helm registry login", lambda: self._login(config))
            credentials = o.credentials or credentials_from_config(config, self.host)
            registry = oci.Registry(self.host, plain_http=o.plain_http, username=credentials and credentials.username, password=credentials and credentials.password)
            # Asked first so a refused release costs seconds, and again right before the push.
            self._timed("ask the registry", lambda: self._existing(registry))

            self._timed("checks", lambda: preflight(o.chart, self.progress))
            archive = self._timed("package", lambda: self._package_reproducibly(workdir, epoch))
            provenance = keyring = None
            if o.signing:
                provenance, keyring = self._timed("sign", lambda: sign(archive, o.signing, workdir))
                self.progress("    " + helm_verify(archive, keyring, "sign").replace("\n", "\n    "))
            source = chart_at_version(o.chart, o.version, workdir)
            scenarios = [None, *ci_values_files(o.chart)]
            reference = self._timed("render the source", lambda: render_all(source, scenarios))
            self._timed("render the packaged chart", lambda: self._expect_same_renders(reference, archive, scenarios, "render", "the packaged chart"))

            existing = self._timed("ask the registry again", lambda: self._existing(registry))
            try:
                pushed_digest = self._timed("push", lambda: self._push(archive, config))
            except PublishError as error:
                raise PublishError(error.step, f"{error}\n{self._after_failed_push(registry, existing)}") from error
            try:
                self._timed("pull back and verify", lambda: self._verify_pull(registry, archive, keyring, config, workdir, reference, scenarios, pushed_digest))
            except PublishError as error:
                raise PublishError(error.step, f"{error}\n{self._undo(registry, pushed_digest, existing)}") from error
            artifacthub = None
            if o.artifacthub_metadata:
                artifacthub = self._timed("Artifact Hub metadata", lambda: self._push_artifacthub(registry, pushed_digest))
        return Result(self.reference, pushed_digest, file_digest(archive), archive, provenance, existing and existing.digest, artifacthub, self.timings)

    def _push_artifacthub(self, registry: oci.Registry, pushed_digest: str) -> str:
        try:
            return registry.push_artifacthub_metadata(self.repository, self.options.artifacthub_metadata.read_bytes())
        except oci.RegistryError as error:
            raise PublishError(
                "artifacthub",
                f"{self.reference}@{pushed_digest} is published and verified; only its Artifact Hub metadata "
                f"({self.repository}:{oci.ARTIFACTHUB_TAG}, a mutable tag) failed, which the next release pushes again: {error}",
            ) from error

    def _package_reproducibly(self, workdir: Path, epoch: int) -> Path:
        archive = package(self.options.chart, workdir, epoch, self.options.version)
        with tempfile.TemporaryDirectory(prefix="tfs-package-again-") as again:
            second = package(self.options.chart, Path(again), epoch, self.options.version)
            if file_digest(second) != file_digest(archive):
                raise PublishError("package", f"packaging twice gave two digests ({file_digest(archive)}, {file_digest(second)}): the archive is not reproducible")
        self.progress(f"    {archive.name} {file_digest(archive)} (twice; entries dated {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(epoch))} UTC)")
        return archive

    def _expect_same_renders(self, reference: dict[str, str], candidate: Path, scenarios, step: str, what: str) -> None:
        different = render_differences(reference, candidate, scenarios)
        if different:
            raise PublishError(step, f"{what} renders differently from the source chart for: {', '.join(different)}")

    def _helm_registry_args(self, config: Path) -> list[str]:
        return ["--registry-config", str(config)] + (["--plain-http"] if self.options.plain_http else [])

    def _login(self, config: Path) -> None:
        c = self.options.credentials
        args = ["registry", "login", self.host, "--username", c.username, "--password-stdin", "--registry-config", str(config)]
        if self.options.plain_http:
            args.append("--insecure")
        result = helm.run_helm(args, stdin=c.password, check=False)
        if result.returncode != 0:
            raise PublishError("login", f"helm registry login {self.host} as {c.username} failed (check ${ENV_USERNAME}/${ENV_PASSWORD}); nothing was pushed:\n{result.stderr.strip()}")

    def _registry_call(self, step: str, call: Callable):
        try:
            return call()
        except oci.RegistryError as error:
            raise PublishError(step, str(error)) from error

    def _existing(self, registry: oci.Registry) -> oci.Manifest | None:
        existing = self._registry_call("ask the registry", lambda: registry.manifest(self.repository, self.version))
        if existing and not self.options.force:
            raise PublishError(
                "immutable",
                f"{self.reference} already exists with digest {existing.digest}; releases are immutable: "
                "bump `version` in Chart.yaml (or pass --version), or pass --force to replace it. Nothing was pushed.",
            )
        self.progress(f"    {'replacing ' + existing.digest + ' (--force)' if existing else 'not there yet'}")
        return existing

    def _push(self, archive: Path, config: Path) -> str:
        result = helm.run_helm(["push", str(archive), self.options.registry, *self._helm_registry_args(config)], check=False)
        if result.returncode != 0:
            raise PublishError(
                "push",
                f"helm push failed:\n{result.stderr.strip()}",
            )
        match = re.search(r"^Digest: (sha256:[0-9a-f]{64})", result.stdout + result.stderr, re.M)
        if not match:
            raise PublishError("push", f"helm push printed no digest:\n{result.stdout}{result.stderr}")
        self.progress(f"    {self.reference}@{match[1]}")
        return match[1]

    def _verify_pull(self, registry, archive, keyring, config, workdir, reference, scenarios, pushed_digest) -> None:
        manifest = self._registry_call("verify", lambda: registry.manifest(self.repository, self.version))
        if manifest is None or manifest.digest != pushed_digest:
            raise PublishError("verify", f"the registry's {self.version} is {manifest and manifest.digest}, not the pushed {pushed_digest}")
        pulled_dir = workdir / "pulled"
        pulled_dir.mkdir(exist_ok=True)
        chart_url = f"{self.options.registry.rstrip('/')}/{self.meta['name']}"
        args = ["pull", chart_url, "--version", self.version, "--destination", str(pulled_dir), *self._helm_registry_args(config)]
        if keyring:
            args += ["--verify", "--keyring", str(keyring)]
        result = helm.run_helm(args, check=False)
        if result.returncode != 0:
            raise PublishError("verify", f"helm {' '.join(args[:2])} --version {self.version} failed:\n{result.stderr.strip()}")
        pulled = pulled_dir / archive.name
        if file_digest(pulled) != file_digest(archive):
            raise PublishError("verify", f"the pulled archive is {file_digest(pulled)}, the pushed one {file_digest(archive)}")
        if keyring:
            if not pulled.with_name(pulled.name + ".prov").is_file():
                raise PublishError("verify", "helm pull --verify left no .prov next to the pulled chart")
            helm_verify(pulled, keyring, "verify")
        self._expect_same_renders(reference, pulled, scenarios, "verify", "the pulled chart")
        self.progress(f"    pulled {pulled.name}: digest {file_digest(pulled)}, {'signature verified, ' if keyring else ''}{len(scenarios)} renders identical")

    def _after_failed_push(self, registry: oci.Registry, existing: oci.Manifest | None) -> str:
        """Helm writes the manifest (the tag) after the blobs, so a failed push normally created no
        version; the registry is asked, and a tag that appeared anyway is undone."""
        try:
            now = registry.manifest(self.repository, self.version)
        except oci.RegistryError as error:
            return f"could not check whether {self.reference} was created ({error}): check it before retrying"
        if now is None or (existing and now.digest == existing.digest):
            state = f"still {existing.digest}" if existing else "not created"
            return f"the registry is as it was: {self.version} {state} (uploaded layers, if any, are unreferenced and left to its garbage collection)"
        return self._undo(registry, now.digest, existing)

    def _undo(self, registry: oci.Registry, pushed_digest: str, existing: oci.Manifest | None) -> str:
        try:
            if existing:
                registry.put_manifest(self.repository, self.version, existing.body, existing.media_type)
                return f"undone: {self.version} points at its previous manifest {existing.digest} again"
            registry.delete_manifest(self.repository, pushed_digest)
            return f"undone: the pushed manifest {pushed_digest} was deleted, {self.version} no longer exists"
        except oci.RegistryError as error:
            return f"COULD NOT UNDO the push ({error}): delete {self.reference} by hand"


# --- command line (scripts/publish) -------------------------------------------------------------


def _options_from_args(argv: Sequence[str] | None) -> tuple[Options, bool]:
    import argparse

    parser = argparse.ArgumentParser(
        prog="scripts/publish",
        description="Check, package (reproducibly), sign, push the chart to an OCI registry, pull it back and verify it.",
        epilog=f"Credentials: ${ENV_USERNAME} and ${ENV_PASSWORD} (helm registry login into a temporary registry config). "
        f"Signing: --key/${ENV_KEY}, --keyring/${ENV_KEYRING}, --passphrase-file/${ENV_PASSPHRASE_FILE}, --verify-keyring/${ENV_VERIFY_KEYRING}.",
    )
    parser.add_argument("--registry", required=True, help="oci://HOST/NAMESPACE, e.g. oci://ghcr.io/my-org/charts")
    parser.add_argument("--chart", type=Path, default=REPO_ROOT / "charts" / "tf-serving", help="chart directory (default: %(default)s)")
    parser.add_argument("--version", help="publish under this version instead of Chart.yaml's (pre-releases: 0.3.0-rc.1)")
    parser.add_argument("--sign", action="store_true", help="sign with GPG: a .prov pushed with the chart so `helm pull --verify` works")
    parser.add_argument("--key", default=os.environ.get(ENV_KEY), help="signing key name (as helm package --key)")
    parser.add_argument("--keyring", type=Path, default=Path(os.environ.get(ENV_KEYRING, DEFAULT_KEYRING)), help="secret keyring, legacy secring.gpg format (default: %(default)s)")
    parser.add_argument("--passphrase-file", type=Path, default=os.environ.get(ENV_PASSPHRASE_FILE), help="file holding the key's passphrase")
    parser.add_argument("--verify-keyring", type=Path, default=os.environ.get(ENV_VERIFY_KEYRING), help="public keyring the signature is verified with (default: the signing key's own public key)")
    parser.add_argument("--registry-config", type=Path, help="use this helm registry config (e.g. after your own `helm registry login`) instead of a temporary one")
    parser.add_argument("--plain-http", action="store_true", help="talk HTTP to the registry (local registries)")
    parser.add_argument("--force", action="store_true", help="replace a version the registry already has (releases are immutable otherwise)")
    parser.add_argument("--artifacthub-metadata", type=Path, help=f"artifacthub-repo.yml to push as the {oci.ARTIFACTHUB_TAG} tag of the chart's repository")
    parser.add_argument("--output-dir", type=Path, help="keep the archive, .prov and pulled copy here (default: a temporary directory)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; build, sign and push nothing")
    args = parser.parse_args(argv)
    if args.sign and not args.key:
        parser.error(f"--sign needs --key (or ${ENV_KEY})")
    username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
    if bool(username) != bool(password):
        parser.error(f"set both ${ENV_USERNAME} and ${ENV_PASSWORD}, or neither")
    options = Options(
        registry=args.registry,
        chart=args.chart.resolve(),
        version=args.version,
        signing=Signing(args.key, args.keyring, args.passphrase_file, args.verify_keyring) if args.sign else None,
        credentials=Credentials(username, password) if username else None,
        registry_config=args.registry_config,
        plain_http=args.plain_http,
        force=args.force,
        artifacthub_metadata=args.artifacthub_metadata,
        workdir=args.output_dir,
    )
    return options, args.dry_run


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    try:
        options, dry_run = _options_from_args(argv)
        publisher = Publisher(options)
        print("\n".join(publisher.plan()))
        if dry_run:
            print("dry run: nothing was built, signed or pushed")
            return 0
        result = publisher.run()
    except PublishError as error:
        print(f"publish failed at {error.step}: {error}", file=sys.stderr)
        return 1
    print(f"published {result.reference}@{result.manifest_digest} (chart {result.chart_digest}) in {sum(result.timings.values()):.1f}s")
    print(f"archive{' and provenance' if result.provenance else ''} kept in {result.archive.parent}")
    if result.replaced_digest:
        print(f"replaced {result.replaced_digest} (--force)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
