"""The hook contract cannot drift from its guide or its tests.

Every hookspec in ``mercato.hookspecs`` has a section in ``docs/plugins.md`` that
shows its exact arguments, says when it is called, how results combine (matching the
spec's ``firstresult``), and gives a worked example; the guide documents no hook that
does not exist. And every hookspec has a test named after it (``test_<hook name>…``)
under ``tests/`` or an example plugin's ``tests/``.
"""

import ast
import re
from pathlib import Path

import pluggy
import pytest

from mercato import hookspecs

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
TEST_FOLDERS = [ROOT / "tests", *sorted((ROOT / "examples").glob("*/tests"))]

HEADING = re.compile(r"^#### `(mercato_\w+)\(([^)]*)\)`\s*$", re.MULTILINE)
# A hook's section ends at the next heading of any level (a code comment has one "#").
NEXT_HEADING = re.compile(r"^#{2,4} ", re.MULTILINE)


def specs() -> dict[str, pluggy.HookCaller]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return {
        name: caller
        for name, caller in vars(pm.hook).items()
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None
    }


def combination_rule(caller: pluggy.HookCaller) -> str:
    """The words a section's **Combines:** line must start with."""
    if caller.spec.opts.get("firstresult"):
        return "first result"
    if caller.spec.opts.get("historic"):
        return "historic"
    return "all"


def guide_sections() -> dict[str, tuple[list[str], str]]:
    """``{hook: (documented arguments, section text)}`` from the guide's headings."""
    text = GUIDE.read_text()
    matches = list(HEADING.finditer(text))
    sections = {}
    for match in matches:
        following = NEXT_HEADING.search(text, match.end())
        body = text[match.end() : following.start() if following else len(text)]
        arguments = [a.strip() for a in match.group(2).split(",") if a.strip()]
        sections[match.group(1)] = (arguments, body)
    return sections


def field(body: str, label: str) -> str | None:
    """The text of a ``**Label:**`` paragraph, up to the next label or blank line."""
    found = re.search(
        rf"^\*\*{label}:\*\* (.+?)(?=\n\*\*\w+:\*\*|\n\n|\Z)", body, re.MULTILINE | re.DOTALL
    )
    return " ".join(found.group(1).split()) if found else None


def test_every_hookspec_is_documented_in_the_plugin_guide():
    sections = guide_sections()
    problems = []
    for name in sorted(set(specs()) - set(sections)):
        problems.append(f"{name}: no '#### `{name}(...)`' section")
    for name in sorted(set(sections) - set(specs())):
        problems.append(f"{name}: documented, but mercato.hookspecs has no such hook")
    assert not problems, "docs/plugins.md is out of date:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(specs()))
def test_hook_section_matches_its_spec(name):
    caller = specs()[name]
    documented = guide_sections().get(name)
    assert documented, f"docs/plugins.md has no section for {name}"
    arguments, body = documented
    problems = []
    expected = list(caller.spec.argnames)
    if arguments != expected:
        problems.append(
            f"heading shows ({', '.join(arguments)}), the spec has ({', '.join(expected)})"
        )
    if not field(body, "Called"):
        problems.append("no **Called:** line saying who calls it and when")
    described = field(body, "Arguments") or ""
    if not described:
        problems.append("no **Arguments:** line")
    for argument in expected:
        if f"`{argument}`" not in described:
            problems.append(f"**Arguments:** does not explain `{argument}`")
    rule = combination_rule(caller)
    combines = field(body, "Combines") or ""
    if not combines.startswith(rule):
        problems.append(f"**Combines:** must start with '{rule}', it reads: {combines!r}")
    examples = re.findall(r"```python\n(.*?)```", body, re.DOTALL)
    if not any("@hookimpl" in code and f"def {name}(" in code for code in examples):
        problems.append("no worked example (a ```python block with @hookimpl and def)")
    assert not problems, f"docs/plugins.md, {name}:\n  " + "\n  ".join(problems)


def named_tests() -> set[str]:
    names = set()
    for folder in TEST_FOLDERS:
        for path in folder.rglob("test_*.py"):
            tree = ast.parse(path.read_text(), str(path))
            names.update(
                node.name
                for node in ast.walk(tree)
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name.startswith("test_")
            )
    return names


def test_every_hookspec_has_a_test_named_after_it():
    tests = named_tests()
    missing = [name for name in sorted(specs()) if not any(name in test for test in tests)]
    folders = ", ".join(str(f.relative_to(ROOT)) for f in TEST_FOLDERS)
    assert not missing, (
        f"{len(missing)} hook(s) have no test named after them (def test_<hook>_…) in "
        f"{folders}:\n  " + "\n  ".join(missing)
    )
