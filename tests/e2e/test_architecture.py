"""docs/architecture.md against the code: the machine-readable "may-include" list, each
component's module.mk (COMPONENT_USES), the #include "..." lines the sources really have,
and the module names of the Layout table must all tell the same story."""
import re
from pathlib import Path

import pytest

from conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
SKIP = {"node_modules", "web"}        # flamescope/web is JavaScript, bundled separately


def drawing():
    """{component: set of components it may include} from the doc's may-include block."""
    text = DOC.read_text()
    m = re.search(r"<!-- may-include:[^>]*-->\s*```text\n(.*?)```", text, re.S)
    assert m, "docs/architecture.md has no may-include block"
    graph = {}
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        name, _, uses = line.partition(":")
        assert name.strip() not in graph, f"{name} drawn twice"
        graph[name.strip()] = set(uses.split())
    return graph


def declared():
    """{component: set(USES) + lib} from the module.mk files (lib/ itself uses nothing)."""
    graph = {"lib": set()}
    for mk in sorted(ROOT.glob("*/module.mk")):
        text = re.sub(r"#.*", "", mk.read_text())
        for comp in re.findall(r"^COMPONENTS\s*\+=\s*(.+)$", text, re.M):
            for c in comp.split():
                m = re.search(rf"^{re.escape(c)}_USES\s*:?=(.*)$", text, re.M)
                graph[c] = set(m.group(1).split() if m else []) | {"lib"}
    return graph


def sources(comp):
    for p in sorted((ROOT / comp).rglob("*.[ch]")):
        if not SKIP & set(p.relative_to(ROOT / comp).parts):
            yield p


def include_path(comp, graph):
    """The directories the build searches, in order, for a component's quoted includes."""
    return [ROOT / comp] + [ROOT / u for u in sorted(graph[comp] - {"lib"})] + [ROOT / "lib"]


def owner(path):
    return path.resolve().relative_to(ROOT.resolve()).parts[0]


def actual(graph):
    """{component: {included component: [where]}} resolving each #include "x" the way the
    compiler does (the file's own directory first, then the component's -I path)."""
    found, unresolved = {}, []
    for comp in graph:
        uses = found.setdefault(comp, {})
        for src in sources(comp):
            for no, line in enumerate(src.read_text(errors="replace").splitlines(), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                where = f"{src.relative_to(ROOT)}:{no}"
                for d in [src.parent] + include_path(comp, graph):
                    if (d / m.group(1)).is_file():
                        target = owner(d / m.group(1))
                        if target != comp:
                            uses.setdefault(target, []).append(f"{where} ({m.group(1)})")
                        break
                else:
                    unresolved.append(f"{where}: \"{m.group(1)}\" is not on {comp}'s path")
    return found, unresolved


def test_drawing_matches_module_mk():
    drawn, decl = drawing(), declared()
    assert set(drawn) == set(decl), (
        f"components in the code but not drawn: {sorted(set(decl) - set(drawn))}; "
        f"drawn but not in the code: {sorted(set(drawn) - set(decl))}")
    for comp in decl:
        assert drawn[comp] == decl[comp], (
            f"{comp}: the drawing says it may include {sorted(drawn[comp])}, its module.mk "
            f"says {sorted(decl[comp])}")


def test_includes_match_the_drawing():
    drawn = drawing()
    found, unresolved = actual(drawn)
    assert not unresolved, "\n".join(unresolved)
    problems = []
    for comp, uses in found.items():
        for target, where in uses.items():
            if target not in drawn[comp]:
                problems.append(f"{comp} includes {target}, which the drawing does not allow: "
                                + ", ".join(where[:3]))
        for target in drawn[comp] - set(uses):
            problems.append(f"{comp} is drawn using {target} but includes nothing of it")
    assert not problems, "\n".join(problems)


def test_no_cycles():
    drawn = drawing()

    def visit(c, stack):
        assert c not in stack, "layering cycle: " + " -> ".join(stack + [c])
        for u in drawn.get(c, ()):
            visit(u, stack + [c])

    for c in drawn:
        visit(c, [])


def test_layout_table_names_every_module():
    """Every module (NAME.c / NAME.h, main.c aside) shows as `NAME` in its folder's row, and
    every entry of the row written as a module (`NAME` (what it does)) is one."""
    text = DOC.read_text()
    missing, stale = [], []
    for comp in drawing():
        row = re.search(rf"^\| `{re.escape(comp)}/` \|(.*)\|\s*$", text, re.M)
        assert row, f"the Layout table has no row for {comp}/"
        named = {re.sub(r"\.[ch]$", "", n)
                 for n in re.findall(r"`([A-Za-z0-9_]+(?:\.[ch])?)`", row.group(1))}
        entries = {re.sub(r"\.[ch]$", "", n)
                   for n in re.findall(r"`([A-Za-z0-9_]+(?:\.[ch])?)` \(", row.group(1))}
        modules = {p.stem for p in (ROOT / comp).glob("*.[ch]") if p.stem != "main"}
        missing += [f"{comp}/{m}" for m in sorted(modules - named)]
        stale += [f"{comp}/{n}" for n in sorted(entries - modules)]
    assert not missing, "modules missing from the Layout table: " + ", ".join(missing)
    assert not stale, "the Layout table names modules that are gone: " + ", ".join(stale)


@pytest.mark.parametrize("comp", ["handler"])
def test_public_header_includes_no_internal_header(comp):
    """fnhandler.h is installed alone: it may include system headers only."""
    text = (ROOT / comp / "fnhandler.h").read_text()
    assert not re.findall(r'^\s*#\s*include\s+"', text, re.M)
