"""A Griffe extension for the API reference: Sphinx roles in docstrings read as code.

The docstrings name other objects the Sphinx way (``:class:`Trainer```,
``:func:`~shallownet.registry.build```); Markdown would print the role. Each
becomes inline code (`` `Trainer` ``, `` `build` ``: a leading ``~`` keeps
the last name only, as Sphinx shows it). Loaded by ``mkdocs.yml``.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|ref):`(~?)([^`]+)`")


def _as_code(match: re.Match) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring as inline code."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_as_code, obj.docstring.value)
