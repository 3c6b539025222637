"""Static security rules over the project's own files.

- Code never runs a checkpoint's own code or unpickles: no ``trust_remote_code=True`` literal,
  no ``torch.load`` without ``weights_only=True``, no ``pickle``/``joblib``/``dill`` loads, no
  ``numpy.load(allow_pickle=True)`` or ``pandas.read_pickle`` (src/, flows/, bench/); a
  non-literal ``trust_remote_code=`` only where the contract below guards it.
- ``trust_remote_code`` contract: remote code runs only when ``trust_remote_code_for`` names
  the configured model (``aesthetic_weights``) exactly; the default config never passes
  ``trust_remote_code=True`` to ``from_pretrained``.
- Loopback: every server start line (Makefile, scripts, CI, infra, flows, src, tests, docs'
  code blocks) names an explicit loopback host; in-cluster and in-container ones are listed
  below with the reason they may bind all interfaces.
- scripts/audit.sh (pip-audit over the lock): its verdicts, with the vulnerability service
  replaced by a scripted one (no network): a skip only when the service cannot be reached.

The pickle-refusal of weight folders is tested in test_zoo_artifacts.py and test_zoo_thinker.py.
"""

from __future__ import annotations

import ast
import fnmatch
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from aesformer.config import EvalConfig, MineConfig, load_params
from aesformer.errors import ConfigError
from aesformer.scoring.aesthetic import ScorerUnavailable, get_scorer
from tests.conftest import REPO

pytestmark = pytest.mark.unit

CODE_DIRS = ("src", "flows", "bench")

# ----------------------------------------------------------------------------- unsafe loading
#: ``module.function`` calls that unpickle whatever they are given.
PICKLE_LOADS = {
    f"{m}.{f}" for m in ("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib")
    for f in ("load", "loads", "Unpickler")
} | {"pandas.read_pickle", "torch.serialization.load"}  # fmt: skip
#: Files whose non-literal ``trust_remote_code=`` is guarded by ``trust_remote_code_for``.
GUARDED_REMOTE_CODE = {"src/aesformer/scoring/aesthetic.py"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_loads(source: str, where: str = "<code>") -> list[str]:
    """Unsafe deserialisation and unconditional remote code in ``source``."""
    found = []
    tree = ast.parse(source)
    imported = {}  # local name -> what it is: `import numpy as np`, `from pickle import load`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        head, _, rest = _dotted(node.func).partition(".")
        name = ".".join(x for x in (imported.get(head, head), rest) if x)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        at = f"{where}:{node.lineno}"
        if "trust_remote_code" in kw:
            value = kw["trust_remote_code"]
            if _is_true(value):
                found.append(f"{at}: trust_remote_code=True")
            elif not isinstance(value, ast.Constant) and where not in GUARDED_REMOTE_CODE:
                found.append(f"{at}: trust_remote_code from a variable outside the guard")
        if name == "torch.load" and not _is_true(kw.get("weights_only")):
            found.append(f"{at}: torch.load without weights_only=True")
        if name in PICKLE_LOADS:
            found.append(f"{at}: {name}")
        if name == "numpy.load" and _is_true(kw.get("allow_pickle")):
            found.append(f"{at}: {name}(allow_pickle=True)")
    return found


def code_files() -> Iterator[Path]:
    for folder in CODE_DIRS:
        yield from sorted((REPO / folder).rglob("*.py"))


def test_no_remote_code_or_pickle_loading_in_the_project_code():
    files = list(code_files())
    assert len(files) > 50
    found = [
        hit for path in files for hit in unsafe_loads(path.read_text(), str(path.relative_to(REPO)))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("m = A.from_pretrained(p, trust_remote_code=True)", "trust_remote_code=True"),
        ("m = A.from_pretrained(p, trust_remote_code=flag)", "outside the guard"),
        ("import torch\nx = torch.load(f)", "torch.load without weights_only=True"),
        ("import torch\nx = torch.load(f, weights_only=False)", "without weights_only"),
        ("from torch import load\nx = load(f)", "torch.load without"),
        ("import pickle\nx = pickle.load(f)", "pickle.load"),
        ("import pickle\nx = pickle.loads(b)", "pickle.loads"),
        ("from pickle import loads as l\nx = l(b)", "pickle.loads"),
        ("import joblib\nx = joblib.load(f)", "joblib.load"),
        ("import numpy as np\nx = np.load(f, allow_pickle=True)", "allow_pickle=True"),
        ("import pandas as pd\nx = pd.read_pickle(f)", "read_pickle"),
    ],
)
def test_unsafe_loading_is_found(snippet, expected):
    found = unsafe_loads(snippet)
    assert len(found) == 1 and expected in found[0]


def test_safe_loading_passes():
    safe = (
        "import torch, numpy as np\n"
        "a = torch.load(f, weights_only=True)\n"
        "b = np.load(f)\n"
        "c = A.from_pretrained(p, trust_remote_code=False)\n"
        "d = safetensors.torch.load_file(f)\n"
        '"""torch.load(x) and pickle.load(y) in a docstring"""\n'
    )
    assert unsafe_loads(safe) == []


# ----------------------------------------------------------------------- trust_remote_code
class _Loaded(Exception):
    """Raised by the from_pretrained spy instead of loading anything."""


@pytest.fixture
def from_pretrained_spy(monkeypatch):
    """Every from_pretrained of transformers' Auto classes and PreTrainedModel, recorded."""
    import transformers
    from transformers.modeling_utils import PreTrainedModel

    calls: list[dict] = []

    def spy(cls, *args, **kwargs):
        calls.append({"cls": cls, **kwargs})
        raise _Loaded

    targets = [PreTrainedModel, transformers.AutoProcessor, transformers.AutoTokenizer]
    targets += [getattr(transformers, n) for n in dir(transformers) if n.startswith("AutoModel")]
    for target in targets:
        monkeypatch.setattr(target, "from_pretrained", classmethod(spy))
    get_scorer.cache_clear()
    yield calls
    get_scorer.cache_clear()


@pytest.mark.parametrize("profile", [None, "full-scale"])
@pytest.mark.parametrize("section", ["mine", "eval"])
def test_default_config_never_trusts_remote_code(profile, section, tmp_path, from_pretrained_spy):
    """The shipped params, with the remote-code scorer and a checkpoint configured, still
    refuse before any from_pretrained; naming the exact checkpoint is what turns it on."""
    cfg = getattr(load_params(REPO / "params.yaml", profile=profile), section)
    assert cfg.trust_remote_code_for is None
    weights = tmp_path / "one-align"
    weights.mkdir()
    qalign = cfg.model_copy(
        update={"aesthetic_scorer": "qalign", "aesthetic_weights": str(weights)}
    )
    with pytest.raises(ScorerUnavailable, match="trust_remote_code_for"):
        get_scorer(qalign.aesthetic_scorer, qalign.aesthetic_weights, qalign.trust_remote_code_for)
    assert from_pretrained_spy == []
    # the spy sees the call once the exact checkpoint is named (so the check above can fail)
    trusted = qalign.model_copy(update={"trust_remote_code_for": str(weights)})
    with pytest.raises(_Loaded):
        get_scorer(
            trusted.aesthetic_scorer, trusted.aesthetic_weights, trusted.trust_remote_code_for
        )
    assert [c.get("trust_remote_code") for c in from_pretrained_spy] == [True]


@pytest.mark.parametrize("scorer", ["qalign", "artimuse"])  # both run third-party model code
def test_a_similar_but_different_path_is_not_trusted(scorer, tmp_path, from_pretrained_spy):
    weights = tmp_path / "one-align"
    weights.mkdir()
    for named in (None, f"{weights}/", f"{tmp_path}/./one-align", "one-align"):
        with pytest.raises(ScorerUnavailable, match="trust_remote_code_for"):
            get_scorer(scorer, str(weights), named)
    assert from_pretrained_spy == []


@pytest.mark.parametrize("section", ["mine", "eval"])
def test_trust_for_another_model_is_a_config_error_naming_the_key(section, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                section: {
                    "aesthetic_scorer": "qalign",
                    "aesthetic_weights": "/models/one-align",
                    "trust_remote_code_for": "/models/other-align",
                }
            }
        )
    )
    with pytest.raises(ConfigError, match=rf"{section}: .*trust_remote_code_for names "):
        load_params(params)
    # the old on/off switch is gone: an unknown key, not a silent opt-in
    params.write_text(yaml.safe_dump({section: {"trust_remote_code": True}}))
    with pytest.raises(ConfigError, match=rf"{section}\.trust_remote_code: unknown key"):
        load_params(params)


@pytest.mark.parametrize("model", [MineConfig, EvalConfig])
def test_changing_the_weights_withdraws_the_trust(model):
    cfg = model(
        aesthetic_scorer="qalign",
        aesthetic_weights="/models/one-align",
        trust_remote_code_for="/models/one-align",
    )
    with pytest.raises(ValueError, match="trust_remote_code_for"):
        cfg.aesthetic_weights = "/models/other-align"


# ----------------------------------------------------------------------------- loopback
def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (bracketed or not)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: Commands that start a listening server.
START = re.compile(
    r"(?<![\w.-])(?:mlflow\s+(?:server|ui|models\s+serve|gateway\s+start)|prefect\s+server\s+start"
    r"|vllm\s+serve|weed\s+(?:server|mini|s3|master|volume|filer)|uvicorn\s+\S|gunicorn\s+\S"
    r"|-m\s+http\.server|jupyter\s+(?:lab|notebook)|tensorboard\s|streamlit\s+run)"
)
HOST = re.compile(
    r"(?:^|\s)(?:--host|--bind|-b|-ip\.bind|--address|--listen)(?:=|\s+)['\"]?([^\s'\",]+)"
)
WILDCARD = re.compile(r"0\.0\.0\.0|\[::\]")
#: (file glob, pattern in the command, why it may bind all interfaces). Each must still match.
ALLOWED = [
    (
        "infra/k8s/*.yaml",
        r"mlflow server|prefect server start|weed server",
        "in a cluster pod: binds the pod's address so its ClusterIP Service reaches it; no "
        "NodePort or LoadBalancer (test_infra_k8s), people use kubectl port-forward",
    ),
    (
        "infra/compose.yaml",
        r"mlflow server|prefect server start|weed server|PREFECT_SERVER_API_HOST",
        "inside its container: the published ports bind 127.0.0.1 (test_infra_compose)",
    ),
    (
        "docs/thinker.md",
        r"vllm serve",
        "the full-scale judge on its own GPU node, a cluster service "
        "(vllm-reward-judge.aesformer.svc) that requires --api-key",
    ),
]
TEXT_GLOBS = ("Makefile", "*.sh", "*.yaml", "*.yml", "Dockerfile*", ".ci/run", "*.md", "*.py")
SKIP_PARTS = {".git", ".venv", "node_modules", "__pycache__"}
#: Top-level folders of outputs (DVC-owned), not of the project's sources.
SKIP_TOP = {".dvc", ".prefect", "data", "models", "reports", "mlartifacts", "build"}
#: This file holds the negative examples of the rule.
THIS_FILE = Path(__file__).resolve()


@dataclass(frozen=True)
class Site:
    path: str
    text: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text.strip()[:160]}"


def _logical_lines(text: str, first_line: int = 1) -> Iterator[tuple[int, str]]:
    """Shell-like lines, backslash continuations joined, whole-line comments dropped."""
    buf, start = "", first_line
    for i, line in enumerate(text.splitlines(), first_line):
        if not buf:
            start = i
            if line.lstrip().startswith("#"):
                continue
        line = re.sub(r"\s#.*", "", line)  # a trailing comment
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        yield start, buf + line
        buf = ""
    if buf:
        yield start, buf


def _markdown_code(text: str) -> Iterator[tuple[int, str]]:
    """Lines of fenced code blocks (prose that mentions a command is not a command)."""
    fence, block, start = None, [], 0
    for i, line in enumerate(text.splitlines(), 1):
        mark = re.match(r"\s*(```|~~~)", line)
        if mark and fence is None:
            fence, block, start = mark.group(1), [], i + 1
        elif mark and line.strip().startswith(fence or "```"):
            yield from _logical_lines("\n".join(block), start)
            fence = None
        elif fence is not None:
            block.append(line)


def _yaml_units(text: str) -> Iterator[tuple[int, str]]:
    """Every string, every list of strings joined, every ``key: scalar`` of the documents."""

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    yield f"{key}: {value}"
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            if node and all(isinstance(x, str) for x in node):
                yield " ".join(node)
            else:
                for item in node:
                    yield from walk(item)
        elif isinstance(node, str):
            yield node

    lines = text.splitlines()
    for doc in yaml.safe_load_all(text):
        for unit in walk(doc):
            # the line (for the message): the first holding every word of the command's start
            found = START.search(unit) or WILDCARD.search(unit)
            words = (found.group(0) if found else unit).split()[:3]
            line = next((i for i, s in enumerate(lines, 1) if all(w in s for w in words)), 0)
            yield line, " ".join(unit.split())


def _word(node: ast.expr) -> str:
    """A command list's element: a string; ``bindir + "/prefect"`` -> ``prefect``;
    ``weed_binary()`` -> ``weed``; anything else ``?``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.right, ast.Constant):
        return str(node.right.value).rsplit("/", 1)[-1] or "?"
    if isinstance(node, ast.Call):
        return re.sub(r"_(binary|bin|path|exe)$", "", _dotted(node.func).rsplit(".", 1)[-1])
    return "?"


def _python_units(text: str) -> Iterator[tuple[int, str]]:
    """Command lists (``["mlflow", "server", ...]``, others as ``?``) and non-docstring
    strings with a flag (``"exec mlflow server --port 1"``, not a label ``"mlflow server"``):
    what a subprocess could be started with."""
    tree = ast.parse(text)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.List | ast.Tuple):
            words = [_word(e) for e in node.elts]
            if any(w != "?" for w in words):
                yield node.lineno, " ".join(words)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            start = START.search(node.value)
            label = start and not re.search(r"\s-", node.value[start.end() :])
            if id(node) not in docstrings and not label:
                yield node.lineno, node.value


def python_binds(text: str, where: str) -> tuple[list[Site], list[Site]]:
    """In-process listeners: ``socket.bind((host, port))``, ``*Server((host, port), ...)``,
    ``host=`` keywords. Returns (sites, those whose host is not loopback)."""
    sites, bad = [], []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        hosts: list[ast.expr] = []
        if (name.endswith(".bind") or name.endswith("Server")) and node.args:
            addr = node.args[0]
            if isinstance(addr, ast.Tuple) and addr.elts:
                hosts.append(addr.elts[0])
        hosts += [k.value for k in node.keywords if k.arg in ("host", "bind", "server_name")]
        for host in hosts:
            site = Site(where, ast.unparse(node), node.lineno)
            sites.append(site)
            literal = isinstance(host, ast.Constant) and isinstance(host.value, str)
            if literal and is_loopback(host.value):
                continue
            if literal or name.endswith((".bind", "Server")):
                bad.append(site)
    return sites, bad


def scanned_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if SKIP_PARTS & set(rel.parts) or rel.parts[0] in SKIP_TOP or path == THIS_FILE:
            continue
        if not path.is_file():
            continue
        if any(fnmatch.fnmatch(rel.name, g) or fnmatch.fnmatch(str(rel), g) for g in TEXT_GLOBS):
            yield path


def server_sites(path: Path, rel: str) -> Iterator[Site]:
    """Units of ``path`` that start a server or name a wildcard address."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        units = _python_units(text)
    elif path.suffix in (".yaml", ".yml"):
        units = _yaml_units(text)
    elif path.suffix == ".md":
        units = _markdown_code(text)
    else:
        units = _logical_lines(text)
    for line, unit in units:
        if START.search(unit) or WILDCARD.search(unit):
            yield Site(rel, unit, line)


def binds_loopback(site: Site) -> bool:
    """A server start names a loopback host (and nothing binds a wildcard address)."""
    if WILDCARD.search(site.text):
        return False
    match = START.search(site.text)
    if not match:
        return True
    # host:port and [v6]:port lose their port
    hosts = [re.sub(r"^(\[.*\]|[^:]*):\d+$", r"\1", h) for h in HOST.findall(site.text)]
    return bool(hosts) and all(is_loopback(h) for h in hosts)


def allowed(site: Site) -> int | None:
    for i, (glob, pattern, _reason) in enumerate(ALLOWED):
        if fnmatch.fnmatch(site.path, glob) and re.search(pattern, site.text):
            return i
    return None


def check_loopback(root: Path) -> tuple[list[Site], list[str], set[int]]:
    """(every server site found, violations (one per line), ALLOWED entries used)."""
    sites: dict[Site, None] = {}
    violations: dict[tuple[str, int], str] = {}
    used: set[int] = set()
    for path in scanned_files(root):
        rel = str(path.relative_to(root))
        for site in server_sites(path, rel):
            sites[site] = None
            if binds_loopback(site):
                continue
            entry = allowed(site)
            if entry is None:
                violations[site.path, site.line] = f"{site}: no explicit loopback host"
            else:
                used.add(entry)
        if path.suffix == ".py":
            found, bad = python_binds(path.read_text(encoding="utf-8"), rel)
            sites.update(dict.fromkeys(found))
            for s in bad:
                violations[s.path, s.line] = f"{s}: binds a non-loopback address"
    return list(sites), list(violations.values()), used


def test_every_server_the_project_starts_binds_loopback():
    sites, violations, used = check_loopback(REPO)
    assert violations == []
    # the scan sees the known start lines (so it cannot pass by finding nothing)
    seen = {(s.path, START.search(s.text).group(0)) for s in sites if START.search(s.text)}
    assert {
        ("Makefile", "mlflow ui"),
        ("Makefile", "prefect server start"),
        ("tests/servers.py", "mlflow server"),
        ("tests/servers.py", "weed server"),
        ("tests/integration/test_serving.py", "mlflow models serve"),
        ("tests/integration/test_deployments.py", "prefect server start"),
        ("docs/evaluation.md", "mlflow models serve"),
        ("infra/k8s/mlflow.yaml", "mlflow server"),
        ("infra/compose.yaml", "prefect server start"),
    } <= seen
    assert any(s.path == "tests/integration/test_annotate_openai.py" for s in sites)
    unused = [ALLOWED[i][:2] for i in range(len(ALLOWED)) if i not in used]
    assert unused == [], "allow-list entries that no longer match anything: remove them"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("Makefile", "ui:\n\tmlflow ui --backend-store-uri sqlite:///x.db --port 5000\n"),
        ("Makefile", "ui:\n\tprefect server start \\\n\t  --host 0.0.0.0 --port 4200\n"),
        ("run.sh", "exec uvicorn app:app --port 8000\n"),
        ("run.sh", "export PREFECT_SERVER_API_HOST=0.0.0.0\n"),
        ("infra/x.yaml", 'command: ["mlflow", "server", "--port", "5000"]\n'),
        ("infra/x.yaml", "args:\n  - >-\n    exec mlflow server\n    --host 0.0.0.0\n"),
        ("flows/x.py", 'cmd = [sys.executable, "-m", "mlflow", "server", "--host", host]\n'),
        ("flows/x.py", 'cmd = ["prefect", "server", "start"]\n'),
        ("flows/x.py", 'server = ThreadingHTTPServer(("", 0), Handler)\n'),
        ("flows/x.py", 'uvicorn.run(app, host="0.0.0.0", port=8000)\n'),
        ("docs/x.md", "text `mlflow ui` in prose\n\n```bash\nmlflow ui --port 5000\n```\n"),
    ],
)
def test_a_server_without_a_loopback_host_is_found(tmp_path, name, content):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    _sites, violations, _used = check_loopback(tmp_path)
    assert len(violations) == 1, violations


def test_loopback_servers_and_prose_pass(tmp_path):
    files = {
        "Makefile": "ui:\n\tmlflow ui --host 127.0.0.1 --port 5000\n",
        "run.sh": "prefect server start \\\n  --host=localhost --port 4200\n"
        "gunicorn -b [::1]:8000 app:app\n",
        "flows/x.py": '"""Serve with `mlflow models serve` (docs)."""\n'
        'cmd = ["mlflow", "server", "--host", "127.0.0.1"]\n'
        's = ThreadingHTTPServer(("127.0.0.1", 0), H)\n',
        "infra/x.yaml": "args:\n  - >-\n    exec weed server -ip.bind=127.0.0.1 -s3\n",
        "docs/x.md": "Run `mlflow ui` (or `prefect server start`) to look.\n",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    sites, violations, _used = check_loopback(tmp_path)
    assert violations == [] and len(sites) == 6


# ----------------------------------------------------------------------------- pip-audit
#: Loaded into the audit script's Python processes: the probe's urlopen and pip-audit's PyPI
#: service answer from FAKE_AUDIT instead of the network.
FAKE_SERVICE = """
import contextlib, io, json, os, urllib.error, urllib.request

cfg = json.loads(os.environ["FAKE_AUDIT"])
# pip-audit runs `pip --version` in a child: only the script's own processes are patched
nested = os.environ.get("FAKE_AUDIT_NESTED")
os.environ["FAKE_AUDIT_NESTED"] = "1"

def urlopen(req, timeout=None):
    url = getattr(req, "full_url", req)
    if cfg["probe"] == "dns":
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))
    if cfg["probe"] == "404":
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
    vulns = [{"id": "PYSEC-2018-28"}] if cfg["probe"] == "ok" else []
    return contextlib.closing(io.BytesIO(json.dumps({"vulnerabilities": vulns}).encode()))

urllib.request.urlopen = urlopen
if not nested:
    from packaging.version import Version
    from pip_audit._service import interface, pypi

    def query(self, spec):
        if spec.name in cfg.get("missing", []):
            reason = f"Dependency not found on PyPI and could not be audited: {spec.name}"
            return interface.SkippedDependency(name=spec.name, skip_reason=reason), []
        return spec, [
            interface.VulnerabilityResult(
                id=v["id"], description="scripted", aliases=set(),
                fix_versions=[Version(x) for x in v["fix"]],
            )
            for v in cfg.get("vulns", {}).get(spec.name, [])
            if v.get("version", str(spec.version)) == str(spec.version)
        ]

    pypi.PyPIService.query = query
"""


def run_audit(tmp_path: Path, ignore: str = "", **fake) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("pip_audit", reason="pip-audit is a dev dependency (requirements/lock.txt)")
    (tmp_path / "fake").mkdir(exist_ok=True)
    (tmp_path / "fake" / "sitecustomize.py").write_text(FAKE_SERVICE)
    (tmp_path / "lock.txt").write_text("requests==2.19.0\ntorch==2.13.0+cpu\n")
    (tmp_path / "ignore.txt").write_text(ignore)
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PYTHONPATH": str(tmp_path / "fake"),
        "LOCK": str(tmp_path / "lock.txt"),
        "IGNORE": str(tmp_path / "ignore.txt"),
        "FAKE_AUDIT": json.dumps({"probe": "ok", **fake}),
    }
    return subprocess.run(
        ["bash", str(REPO / "scripts/audit.sh")], env=env, capture_output=True, text=True
    )


TORCH_FINDING = {"torch": [{"id": "GHSA-test-0001", "fix": ["2.14.0"], "version": "2.13.0"}]}


def test_audit_clean_lock_passes_after_auditing_every_pin(tmp_path):
    done = run_audit(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 pinned packages" in done.stdout and "skipped" not in done.stdout


def test_audit_fails_on_a_new_finding(tmp_path):
    done = run_audit(tmp_path, vulns=TORCH_FINDING)  # the +cpu build is audited as 2.13.0
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FINDING torch==2.13.0 GHSA-test-0001" in done.stdout and "2.14.0" in done.stdout


def test_audit_accepts_an_ignored_finding_with_its_reason_only(tmp_path):
    accepted = "# accepted\nGHSA-test-0001  # the project never calls the affected API\n"
    assert run_audit(tmp_path, accepted, vulns=TORCH_FINDING).returncode == 0
    done = run_audit(tmp_path, "GHSA-test-0001\n", vulns=TORCH_FINDING)
    assert done.returncode == 2 and "need 'ID  # reason'" in done.stderr


@pytest.mark.parametrize("probe", ["dns", "404"])
def test_audit_skips_only_when_the_service_cannot_be_reached(tmp_path, probe):
    done = run_audit(tmp_path, probe=probe, vulns=TORCH_FINDING)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("audit skipped: vulnerability service unreachable")


def test_audit_fails_when_the_service_answers_without_advisories(tmp_path):
    done = run_audit(tmp_path, probe="empty")
    assert done.returncode == 2 and "without the advisories" in done.stderr
    assert "skipped" not in done.stdout


def test_audit_fails_when_a_pin_cannot_be_audited(tmp_path):
    done = run_audit(tmp_path, missing=["torch"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "NOT AUDITED torch" in done.stdout and "1 of 2 pinned packages" in done.stdout
