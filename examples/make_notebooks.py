"""Write each example script's notebook: ``python examples/make_notebooks.py [--check]``.

The scripts ``NN_name.py`` are the source, in the py:percent format that VS
Code, PyCharm, Spyder and jupytext read: ``# %%`` starts a code cell,
``# %% [markdown]`` a text cell whose lines start with ``# ``, and
``# %% tags=["parameters"]`` the cell of settings (papermill's convention,
which the tests use to run every notebook on small settings). Each script
becomes ``NN_name.ipynb`` beside it, without outputs; ``--check`` only
reports the notebooks that differ from their script (exit status 1).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
_CELL = re.compile(r"# %%(?P<markdown> \[markdown\])?(?: tags=(?P<tags>\[[^\]]*\]))?")
PARAMETERS = "parameters"


def scripts() -> list[Path]:
    """The example scripts, in order: ``examples/NN_*.py``."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def cells(text: str) -> list[dict]:
    """The cells of a py:percent script: ``{"kind", "source", "tags"}`` each, in order."""
    found: list[dict] = []
    for line in text.splitlines():
        match = _CELL.fullmatch(line.rstrip())
        if match:
            kind = "markdown" if match["markdown"] else "code"
            tags = json.loads(match["tags"]) if match["tags"] else []
            found.append({"kind": kind, "lines": [], "tags": tags})
        elif found:
            found[-1]["lines"].append(line)
        elif line.strip():
            raise ValueError(f"text before the first '# %%' line: {line!r}")
    result = []
    for cell in found:
        lines = cell.pop("lines")
        if cell["kind"] == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        cell["source"] = "\n".join(lines).strip("\n")
        if cell["source"]:
            result.append(cell)
    return result


def notebook(script: Path) -> nbformat.NotebookNode:
    """The notebook of ``script``: its cells, no outputs, ids ``cell-1``, ``cell-2``, ..."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(cells(script.read_text(encoding="utf-8")), start=1):
        make = nbformat.v4.new_markdown_cell if cell["kind"] == "markdown" else \
            nbformat.v4.new_code_cell
        new = make(cell["source"], id=f"cell-{i}")
        if cell["tags"]:
            new.metadata["tags"] = cell["tags"]
        nb.cells.append(new)
    nbformat.validate(nb)
    return nb


def notebook_text(script: Path) -> str:
    return nbformat.writes(notebook(script)) + "\n"


def with_parameters(nb: nbformat.NotebookNode, **values) -> nbformat.NotebookNode:
    """A copy of ``nb`` with a cell after the parameters cell that sets ``values``.

    Only names the parameters cell assigns are set (papermill's
    ``injected-parameters`` convention); anything else is an error.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    index = next((i for i, c in enumerate(nb.cells) if PARAMETERS in c.metadata.get("tags", [])),
                 None)
    if index is None:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    unknown = set(values) - assigned_names(nb.cells[index].source)
    if unknown:
        raise ValueError(f"not parameters of this notebook: {', '.join(sorted(unknown))}")
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, id="injected-parameters")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def parameter_names(script: Path) -> set[str]:
    """The names the parameters cell of ``script`` assigns."""
    for cell in cells(script.read_text(encoding="utf-8")):
        if PARAMETERS in cell["tags"]:
            return assigned_names(cell["source"])
    return set()


def assigned_names(source: str) -> set[str]:
    """The names ``source`` assigns with ``name = ...``."""
    return {t.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    stale = []
    for script in scripts():
        target = script.with_suffix(".ipynb")
        text = notebook_text(script)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(HERE.parent)}")
    if check and stale:
        print("out of date (run python examples/make_notebooks.py): "
              + ", ".join(p.name for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
