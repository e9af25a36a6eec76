"""The README's first command installs everything the examples use, and the ``notebook``
extra everything the notebook uses (read from ``pyproject.toml`` and the sources)."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[([^\]]*)\])?")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_by(extras: list[str]) -> set[str]:
    """The distributions ``pip install -e '.[extras]'`` installs directly (names only)."""
    project = PYPROJECT["project"]
    requirements = list(project["dependencies"])
    todo, seen, names = list(extras), set(), set()
    while requirements or todo:
        if not requirements:
            extra = todo.pop()
            if extra not in seen:
                seen.add(extra)
                requirements += project["optional-dependencies"][extra]
            continue
        match = _NAME.match(requirements.pop())
        assert match
        if _normal(match.group(1)) == "ibmq-async":  # an extra that names other extras
            todo += [extra.strip() for extra in (match.group(3) or "").split(",")]
        else:
            names.add(_normal(match.group(1)))
    return names


def _readme_first_command_extras() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if "examples/quickstart.py" in line)
    match = re.search(r"pip install -e '\.\[([^\]]+)\]'", command)
    assert match, command
    return [extra.strip() for extra in match.group(1).split(",")]


def _imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def _distributions_needed(source: str) -> set[str]:
    mapping = importlib.metadata.packages_distributions()
    needed = set()
    for module in _imported_modules(source):
        if module in sys.stdlib_module_names or module == "ibmq_async":
            continue
        assert module in mapping, f"{module} is not installed here"
        needed |= {_normal(name) for name in mapping[module]}
    if "progress=True" in source:
        needed.add("tqdm")  # the job manager's progress bar
    return needed


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_the_readme_first_install_covers_every_example_script(script: str) -> None:
    installed = _installed_by(_readme_first_command_extras())
    needed = _distributions_needed((EXAMPLES / script).read_text(encoding="utf-8"))
    assert needed <= installed, f"{script} needs {sorted(needed - installed)}"


def test_the_notebook_extra_covers_the_notebook_and_its_widget_progress_bar() -> None:
    notebook = json.loads((EXAMPLES / "notebook.ipynb").read_text(encoding="utf-8"))
    source = "\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"
    )
    installed = _installed_by(["notebook"])
    needed = _distributions_needed(source) | {"ipykernel"}
    if "progress=True" in source:
        needed.add("ipywidgets")  # the notebook bar of tqdm
    assert needed <= installed, f"the notebook needs {sorted(needed - installed)}"
