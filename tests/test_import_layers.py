"""Imports only go down: the package's import graph (read with `ast`, lazy imports inside
functions included) has no cycle, no import from a lower layer to a higher one, and no file
importing its own package's `__init__` (a package's face sits above its files)."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "jaxrestore"

# Lowest first; a module may import its own layer and the ones below (README, "Layers").
LAYERS = (
    ("jaxrestore", "jaxrestore.errors", "jaxrestore.ops", "jaxrestore.metrics",
     "jaxrestore.figures"),
    ("jaxrestore.models",),
    ("jaxrestore.data", "jaxrestore.checkpoints", "jaxrestore.weights"),
    ("jaxrestore.protocol", "jaxrestore.tasks", "jaxrestore.configs", "jaxrestore.convert",
     "jaxrestore.convert_dncnn", "jaxrestore.architectures"),
    ("jaxrestore.config", "jaxrestore.evaluate", "jaxrestore.reports"),
    ("jaxrestore.train", "jaxrestore.inference", "jaxrestore.restore_files"),
    ("jaxrestore.export",),
    ("jaxrestore.cli",),
)


def modules(root: pathlib.Path) -> dict:
    """Dotted module name → file, for every .py file under `root` (a package's __init__ is
    the package's own name)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(root: pathlib.Path) -> dict:
    """Module → set of package modules it imports (`from a import b` counts as a.b when that is
    a module, else as a)."""
    known = modules(root)

    def resolve(name):
        while name not in known:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, path in known.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {resolve(a.name) for a in node.names if a.name.startswith("jaxrestore")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxrestore"):
                targets |= {resolve(f"{node.module}.{a.name}") for a in node.names}
        graph[name] = targets - {name}
    return graph


def layer(name: str) -> int:
    """Index in LAYERS of the longest prefix that names `name` or a package holding it."""
    best = max((len(prefix), index) for index, prefixes in enumerate(LAYERS)
               for prefix in prefixes if name == prefix or name.startswith(prefix + "."))
    return best[1]


def violations(root: pathlib.Path) -> list[str]:
    graph = import_graph(root)
    problems = [f"{a} imports {b}, a higher layer" for a in graph for b in graph[a]
                if layer(b) > layer(a)]
    problems += [f"{a} imports its own package {b}" for a in graph for b in graph[a]
                 if a.startswith(b + ".") and b != "jaxrestore"]
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                problems.append("cycle: " + " -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return problems


def test_imports_only_go_down():
    assert violations(ROOT) == []


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    package = tmp_path / "jaxrestore"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("from jaxrestore.models import net\n")
    (package / "models" / "net.py").write_text(
        "def f():\n    from jaxrestore import models\n    import jaxrestore.tasks\n")
    (package / "tasks.py").write_text("from jaxrestore.models import net\n")
    found = violations(package)
    assert "jaxrestore.models.net imports jaxrestore.tasks, a higher layer" in found
    assert "jaxrestore.models.net imports its own package jaxrestore.models" in found
    assert any(line.startswith("cycle: ") for line in found)
