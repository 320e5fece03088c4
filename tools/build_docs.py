"""Build the API reference from the docstrings with pdoc: `python tools/build_docs.py [DIR]`
(default `build/api`, open `index.html`). Every module of `abbnn` and `larq_abbnn` gets a
page; any warning pdoc raises (an unresolvable annotation, a bad cross-reference, a module
that fails to import) fails the build, so CI keeps the reference clean."""

from __future__ import annotations

import os
import pkgutil
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PDOC_ALLOW_EXEC", "1")  # TensorFlow runs `uname -p` when imported

import pdoc  # noqa: E402  (after the environment above)
import pdoc.extract  # noqa: E402

PACKAGES = ("abbnn", "larq_abbnn")


def modules() -> list[str]:
    """The packages, plus every module pdoc would not find by itself: it walks a package's
    submodules, but hides those a package's `__all__` does not list (ours list functions)."""
    specs = [*PACKAGES, "!abbnn.__main__"]  # __main__ runs the CLI when imported
    found = set(pdoc.extract.walk_specs(specs))
    hidden = []
    for package in PACKAGES:
        path = __import__(package).__path__
        for module in pkgutil.walk_packages(path, f"{package}."):
            if module.name not in found and not module.name.endswith(".__main__"):
                hidden.append(module.name)
    return specs + hidden


def main() -> int:
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "api")
    names = modules()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*names, output_directory=pdoc.Path(output))
    problems = [w for w in caught if "pdoc" in (w.filename or "") or w.category is UserWarning]
    for warning in problems:
        print(f"docs: {warning.category.__name__}: {warning.message}", file=sys.stderr)
    pages = sum(1 for _ in pdoc.Path(output).rglob("*.html")) - 1  # index.html
    print(f"docs: {pages} module pages in {output}/index.html, {len(problems)} warning(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
