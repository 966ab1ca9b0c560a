"""The corpus of realistic bad values (tests/unit/bad_values/): every file is refused by the chart
(`helm template`, both renderers) and by check_values, and the message names the value path the
file's `# refused-at:` line gives. Add a file whenever a new way to break the chart is found.

Cases not refused yet are listed at the end (PENDING_*), each with who or what will refuse it.
They are strict xfails that accept only "not refused yet" (or, for check_values, "problems found
in the rendered objects, but not named by the value path"): a case the chart refuses for another
reason fails, and so does a pending case that starts passing, until its entry is removed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tfserving_harness import helm, values_check
from tfserving_harness.testing import renderers

CORPUS = Path(__file__).parent / "bad_values"


class NotRefusedYet(AssertionError):
    """The values were accepted (what a pending case expects until its rule lands)."""


class ValuePathNotNamedYet(AssertionError):
    """check_values found problems in the rendered objects, but none names the value path."""


def _header(path: Path) -> dict[str, str]:
    header = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.lstrip("# ").partition(":")
        header[key] = value.strip()
    return header


def _dotted(path: str) -> str:
    """`server.extraEnv[0].value` -> `server.extraEnv.0.value`, the form schema errors use."""
    return re.sub(r"\[(\d+)\]", r".\1", path)


def names_path(output: str, path: str) -> bool:
    """The output names the value path: a schema violation at it (or below), or the path itself
    in a chart message or a problem line (a pass-through field keeps its key path when rendered)."""
    if any(v.path == _dotted(path) or v.path.startswith(_dotted(path) + ".") for v in helm.schema_violations(output)):
        return True
    return re.search(rf"(?<![\w-]){re.escape(path)}(?![\w-])", output) is not None or _dotted(path) in output


def _params(pending: dict[str, str]):
    for path in sorted(CORPUS.glob("*.yaml")):
        pending_mark = pytest.mark.xfail(strict=True, raises=(NotRefusedYet, ValuePathNotNamedYet), reason=pending.get(path.stem, ""))
        yield pytest.param(path, id=path.stem, marks=[pending_mark] if path.stem in pending else [])


def pytest_generate_tests(metafunc):
    """Parametrised here, after the module (and its PENDING lists at the end) has loaded."""
    if "values_file" in metafunc.fixturenames:
        pending = PENDING_TEMPLATE if metafunc.function.__name__ == "test_the_chart_refuses_it_naming_the_path" else PENDING_CHECK_VALUES
        metafunc.parametrize("values_file", list(_params(pending)))


def test_the_corpus_is_large_and_every_file_says_what_it_breaks():
    files = sorted(CORPUS.glob("*.yaml"))
    assert len(files) >= 60
    for path in files:
        header = _header(path)
        assert header.get("refused-at") and header.get("why"), f"{path.name}: needs '# refused-at: <value path>' and '# why: ...' lines"
    unknown = (set(PENDING_TEMPLATE) | set(PENDING_CHECK_VALUES)) - {p.stem for p in files}
    assert not unknown, f"pending cases without a file: {sorted(unknown)}"
    assert set(PENDING_CHECK_VALUES) <= set(PENDING_TEMPLATE), "check_values renders the chart: what the chart refuses, it refuses"


@pytest.mark.parametrize("renderer", renderers())
def test_the_chart_refuses_it_naming_the_path(values_file, renderer, render):
    path = _header(values_file)["refused-at"]
    try:
        # validate=False: the question is whether the chart itself refuses (check_values is the next test).
        render(values_files=[values_file], renderer=renderer, kube_version=helm.OLDEST_KUBE_VERSION, validate=False)
    except helm.RenderError as error:
        assert names_path(error.stderr, path), f"refused, but the message does not name {path}:\n{error.stderr}"
    else:
        raise NotRefusedYet(f"{renderer} rendered {values_file.name}")


def test_check_values_refuses_it_naming_the_path(values_file, capsys):
    path = _header(values_file)["refused-at"]
    # One version is enough to show the refusal (the oldest, whose definitions the schema carries);
    # both versions by default are test_check_values_cli's.
    code = values_check.main(["--values", str(values_file), "--kube-version", helm.OLDEST_KUBE_VERSION])
    out = capsys.readouterr()
    output = out.out + out.err
    if code == 0:
        raise NotRefusedYet(f"check_values found nothing in {values_file.name}")
    if code == 1 and not names_path(output, path):
        raise ValuePathNotNamedYet(f"found at the rendered objects, not at {path}:\n{output}")
    assert names_path(output, path), f"exit {code}, but the output does not name {path}:\n{output}"


# ---- Pending: not refused yet, and who will refuse them -----------------------------------------
# Empty: every case in the corpus is refused. A new case the chart does not refuse yet goes here,
# `"<file stem>": "<what will refuse it>"`, until its rule lands.
PENDING_TEMPLATE: dict[str, str] = {}
PENDING_CHECK_VALUES: dict[str, str] = {}
