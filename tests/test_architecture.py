"""The layout's import rule (docs/architecture.md): a module imports only from its own
floor or the floors above it, lazy imports inside functions included."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent

#: module prefix -> floor, most specific first (docs/architecture.md's table)
FLOORS = [
    ("abbnn.recipe", 0),
    ("abbnn.inputs", 0),
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


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import, lazy ones included; `from package import module`
    names the module (`from larq_abbnn.converters import formats`: `...converters.formats`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((node.lineno, submodule if _is_module(submodule) else node.module))
    return found


def _modules() -> dict[str, Path]:
    paths = sorted([*ROOT.glob("abbnn/**/*.py"), *ROOT.glob("larq_abbnn/**/*.py")])
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in paths
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm):
    each is a set of modules that import one another, directly or around a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (top-level and lazy imports alike)."""
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    return {
        module: {t for _, name in _imports(path) if (t := resolve(name)) and t != module}
        for module, path in modules.items()
    }


def test_no_import_cycle_between_any_two_modules():
    """Not across floors (the rule above forbids that) nor within one: a lazy import
    inside a function counts too, since it runs the imported module's top level."""
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_planted_cycle_and_nothing_else():
    graph = import_graph()  # pipeline imports fold; fold importing pipeline closes a loop
    graph["larq_abbnn.converters.fold"] = {*graph["larq_abbnn.converters.fold"],
                                           "larq_abbnn.converters.pipeline"}  # fmt: skip
    [cycle] = import_cycles(graph)
    assert {"larq_abbnn.converters.fold", "larq_abbnn.converters.pipeline"} <= set(cycle)
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


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
