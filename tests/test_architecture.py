"""The layout's import rule (docs/architecture.md): a module imports only from its own
floor or the floors above it, lazy imports inside functions included."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent

#: module prefix -> floor, most specific first (docs/architecture.md's table)
FLOORS = [
    ("abbnn.recipe", 0),
    ("abbnn.stack", 0),
    ("larq_abbnn.quantizers", 1),
    ("larq_abbnn.math", 1),
    ("larq_abbnn.layers_base", 1),
    ("larq_abbnn.layers", 1),
    ("larq_abbnn.families", 1),
    ("larq_abbnn.graph", 1),
    ("larq_abbnn.files", 1),
    ("larq_abbnn.saved_models", 1),
    ("larq_abbnn.checkpoints", 2),
    ("larq_abbnn.zoo", 3),
    ("larq_abbnn.data", 4),
    ("larq_abbnn.training", 4),
    ("larq_abbnn.converters", 5),
    ("larq_abbnn.analysis", 6),
    ("abbnn", 7),
]


def _floor(module: str) -> int | None:
    if module == "larq_abbnn":  # the package itself: its __init__ imports floor 1 only
        return 1
    if module in ("abbnn", "abbnn.__version__"):  # abbnn/__init__.py holds only the version
        return 0
    for prefix, floor in FLOORS:
        if module == prefix or module.startswith(prefix + "."):
            return floor
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ("larq_abbnn", "abbnn"):  # `from larq_abbnn import zoo`
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_no_import_runs_up_a_floor():
    violations = []
    for path in sorted([*ROOT.glob("abbnn/**/*.py"), *ROOT.glob("larq_abbnn/**/*.py")]):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        floor = _floor(module)
        for line, imported in _imports(path):
            target = _floor(imported)
            if floor is not None and target is not None and target > floor:
                violations.append(
                    f"{path.relative_to(ROOT)}:{line} (floor {floor}) imports "
                    f"{imported} (floor {target})"
                )
    assert not violations, "\n".join(violations)


def test_the_floor_table_covers_every_module():
    for path in [*ROOT.glob("abbnn/**/*.py"), *ROOT.glob("larq_abbnn/**/*.py")]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        assert _floor(module) is not None, module


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The check can fail: a zoo module importing the analysis is reported."""
    fake = tmp_path / "larq_abbnn" / "zoo"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from larq_abbnn.analysis import audit\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    try:
        test_no_import_runs_up_a_floor()
    except AssertionError as error:
        assert "larq_abbnn/zoo/bad.py:2 (floor 3) imports larq_abbnn.analysis" in str(error)
    else:
        raise AssertionError("an upward import was not reported")
