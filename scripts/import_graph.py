"""Print cardsmith's internal import graph: circles, floors, and private names crossing modules.

Every ``import`` statement counts, also the lazy ones inside functions (they still make a circle);
modules loaded by name (the rerun's task registry: ``"module:Class"`` strings) count for circles.
Exit 1 when there is a circle, a private name crosses a module boundary, or (``--max-floors N``) the
module graph has more than N floors.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "cardsmith"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]], list[str]]:
    """The import edges, the modules each module names in a string, and the private names crossing modules.

    A module named in a string (``"cardsmith.rerun.tasks.speech:SpeechRecognition"``) is loaded by
    name at run time (the rerun's task registry): it is checked for circles too, though it stands on
    no floor.
    """
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    named: dict[str, set[str]] = {m: set() for m in modules}
    private: list[str] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for n in ast.walk(block)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                target = node.value.partition(":")[0]
                if "." in target and target in modules and target != name:
                    named[name].add(target)
                continue
            if id(node) in typing_only:
                continue  # imports for type checkers only: not a dependency at run time
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cardsmith"):
                target = node.module
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        edges[name].add(sub)
                    elif target in modules:
                        edges[name].add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__") and target != name:
                            private.append(f"{name} imports {target}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("cardsmith") and alias.name in modules:
                        edges[name].add(alias.name)
    for name, targets in edges.items():
        targets.discard(name)
    return edges, named, private


def floors(edges: dict[str, set[str]]) -> dict[str, int]:
    level: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(m: str, stack: list[str]) -> int:
        if m in level:
            return level[m]
        if m in visiting:
            raise RecursionError(" -> ".join([*stack, m]))
        visiting.add(m)
        level[m] = 1 + max((visit(d, [*stack, m]) for d in edges[m]), default=0)
        visiting.discard(m)
        return level[m]

    for m in edges:
        visit(m, [])
    return level


def folder_of(module: str) -> str:
    """The room of a module: ``cardsmith.audit.rules.dynamics`` -> ``audit``; top-level modules are their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (ROOT / parts[1]).is_dir()) else module


def main() -> int:
    quiet = "--quiet" in sys.argv
    # --max-floors N: fail when the module graph is taller (issue #9 asks for at most 8)
    max_floors = int(sys.argv[sys.argv.index("--max-floors") + 1]) if "--max-floors" in sys.argv else None
    edges, named, private = graph()
    try:
        level = floors(edges)
    except RecursionError as exc:
        print(f"import circle: {exc}")
        return 1
    try:
        floors({m: edges[m] | named[m] for m in edges})
    except RecursionError as exc:
        print(f"import circle through a module loaded by name: {exc}")
        return 1
    if not quiet:
        for m in sorted(level, key=lambda k: (level[k], k)):
            print(f"{level[m]:2d}  {m}")
    rooms: dict[str, set[str]] = {}
    for m, targets in edges.items():
        rooms.setdefault(folder_of(m), set()).update(
            folder_of(t) for t in targets if folder_of(t) != folder_of(m)
        )
    try:
        room_level = floors(rooms)
    except RecursionError as exc:
        print(f"import circle between folders: {exc}")
        return 1
    print(
        f"modules: {len(level)}, floors: {max(level.values())}; folders: {len(room_level)}, "
        f"floors: {max(room_level.values())}"
    )
    if not quiet:
        for room in sorted(room_level, key=lambda k: (room_level[k], k)):
            print(f"  {room_level[room]}  {room}")
    for line in private:
        print("private name crosses modules:", line)
    too_tall = max_floors is not None and max(level.values()) > max_floors
    if too_tall:
        top = max(level, key=lambda k: level[k])
        print(f"the module graph has {max(level.values())} floors, more than {max_floors} (top: {top})")
    return 1 if private or too_tall else 0


if __name__ == "__main__":
    sys.exit(main())
