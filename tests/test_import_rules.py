"""The layering rule of docs/architecture.md, checked on the source (issue 14, item 9):
- `curation/` never imports Prefect;
- within `curation/`, only `curation/metrics/` may import `model.encoders` or `sync_classifier`,
  and only inside functions (importing a metric module stays light);
- `flows/` import no algorithm: only library entry points, never numpy / torch / cv2 / av."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALGORITHM_LIBRARIES = {"numpy", "torch", "cv2", "av", "scipy"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def _root(module: str) -> str:
    return module.split(".")[0]


def test_curation_never_imports_prefect():
    offenders = [f"{p.relative_to(REPO)}: {m}" for p in sorted((REPO / "curation").rglob("*.py"))
                 for m, _ in _imports(p) if _root(m) == "prefect"]
    assert offenders == []


def test_only_metrics_reach_models_and_only_inside_functions():
    offenders = []
    for path in sorted((REPO / "curation").rglob("*.py")):
        in_metrics = (REPO / "curation" / "metrics") in path.parents
        for module, top_level in _imports(path):
            if module.startswith("model.encoders") or _root(module) == "sync_classifier":
                if not in_metrics or top_level:
                    offenders.append(f"{path.relative_to(REPO)}: {module}{' (module level)' if top_level else ''}")
    assert offenders == []


def test_flows_import_no_algorithm_library():
    offenders = [f"{p.relative_to(REPO)}: {m}" for p in sorted((REPO / "flows").rglob("*.py"))
                 for m, _ in _imports(p) if _root(m) in ALGORITHM_LIBRARIES]
    assert offenders == []
