"""What the referee's worker runs of the instructor's given cells: all but the imports the submission cannot reach.

The worker exists to call the submission's functions (preprocessors/referee.py). Run whole, the given cells
make every worker import what the notebook imports for its data and plots (scikit-learn, matplotlib: about
2 CPU s per submission, benchmarks/PROFILE.md) though no answer function uses them. ``worker_cells`` drops,
from the given cells only:

- an ``import`` of a module that is not one of the instructor's helper modules (their import may set things
  up that the answers rely on), when no name it binds is reachable from the submission's code;
- then, repeatedly, any other unreachable statement that mentions a name a dropped statement binds
  (``X, y = make_moons(...)``, then ``Y = np.eye(2)[y]``, ``print(X_train.shape)``, a plotting function).

A name is reachable when the submission's code looks it up in the notebook's namespace (``symtable``: a
function's parameters and locals are not), or when a reachable statement of a given cell does, transitively.
Every other statement runs as in the notebook, in order, so the submission's functions find every global they
name bound as in the notebook. Code that can reach the namespace without naming what it takes (``globals()``,
``eval``, ``__main__``, frames, IPython's ``user_ns``, ...), a star import, or code that is not plain Python (a
magic) turns the pruning off: every given cell then runs whole. The submission's own cells always run whole.
Pruning changes only the worker; the notebook's kernel ran every cell, and a test cell scores only if it
passed in both.
"""
import ast
import re
import symtable

# Ways to look a global up without naming it: then no statement can be shown unreachable.
DYNAMIC = re.compile(r"\b(globals|vars|locals|dir|eval|exec|compile|__import__|import_module|get_ipython|__main__|"
                     r"__builtins__|builtins|__globals__|__dict__|f_globals|f_back|f_locals|user_ns|modules|"
                     r"inspect|currentframe|_getframe|gc|ctypes)\b")


def worker_cells(cells, helper_modules=()):
    """The source of each cell as the worker should run it.

    cells: (source, given) in notebook order; given is True for the instructor's locked cells that are neither
    answers nor tests (referee.trusted_cells' "given"), False for the submission's cells, which stay whole.
    helper_modules: top-level names of the instructor's modules (sandbox.instructor_modules), never dropped.
    A given cell loses only the statements dropped; one that loses none is returned unchanged, one that loses
    all becomes "" (the cells keep their positions: the worker counts them when one crashes).
    """
    whole = [source for source, _ in cells]
    student = [source for source, given in cells if not given and source.strip()]
    trees = [parse(source) if given else None for source, given in cells]
    if any(DYNAMIC.search(source) or not compiles(source) for source in student) \
            or any(tree is None for tree, (_, given) in zip(trees, cells) if given):
        return whole
    statements = [statement for tree in trees if tree is not None for statement in tree.body]
    if any(star_import(statement) for statement in statements):
        return whole
    try:
        needed = set().union(*(global_names(source) for source in student))
        dropped = unreachable(statements, needed, set(helper_modules))
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # symtable's checks go further than ast.parse's
        return whole
    pruned = []
    for source, tree in zip(whole, trees):
        kept = [s for s in tree.body if id(s) not in dropped] if tree is not None else None
        pruned.append(source if kept is None or len(kept) == len(tree.body) else ast.unparse(ast.Module(kept, [])))
    return pruned


def unreachable(statements, needed, helper_modules):
    """ids of the given cells' statements to drop (see the module docstring); needed: the names the
    submission's code looks up."""
    bound = {id(s): binds(s) for s in statements}
    used = {id(s): global_names(ast.unparse(s)) for s in statements}
    reached, needed, changed = set(), set(needed), True
    while changed:
        changed = False
        for statement in statements:
            if id(statement) not in reached and bound[id(statement)] & needed:
                reached.add(id(statement))
                needed |= used[id(statement)]
                changed = True
    dropped = {id(s) for s in statements if id(s) not in reached and isinstance(s, (ast.Import, ast.ImportFrom))
               and not imported_modules(s) & helper_modules}
    changed = True
    while changed:
        gone = set().union(*(bound[i] for i in dropped))
        more = {id(s) for s in statements if id(s) not in reached | dropped and used[id(s)] & gone}
        changed = bool(more)
        dropped |= more
    return dropped


def parse(source):
    """The module tree of source, or None when it is not plain Python (a magic, a shell escape, a typo)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def compiles(source):
    """Whether source compiles as plain Python (``return`` outside a function passes ast.parse, not this)."""
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def star_import(statement):
    """Whether statement holds ``from module import *``, which binds names no one can list beforehand."""
    return any(isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)
               for node in ast.walk(statement))


def imported_modules(statement):
    """Top-level names of the modules an import statement imports (``from .x import y``: none)."""
    if isinstance(statement, ast.ImportFrom):
        return {statement.module.split(".")[0]} if statement.module and not statement.level else set()
    return {alias.name.split(".")[0] for alias in statement.names}


def scopes(source):
    """The symbol tables of source: its module's, then those of every function and class inside."""
    tables = [symtable.symtable(source, "<cell>", "exec")]
    for table in tables:
        tables.extend(table.get_children())
    return tables


def global_names(source):
    """Every name source may look up or bind in the namespace it runs in: all names of its top level, and the
    names its functions, classes and comprehensions do not keep local (their globals, free names)."""
    module, *inner = scopes(source)
    names = set(module.get_identifiers())
    for table in inner:
        names.update(symbol.get_name() for symbol in table.get_symbols() if not symbol.is_local())
    return names


def binds(statement):
    """The names statement binds in the namespace it runs in: assigned, imported, defined at its top level, or
    declared global and assigned in a function."""
    module, *inner = scopes(ast.unparse(statement))
    names = {s.get_name() for s in module.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    for table in inner:
        names.update(s.get_name() for s in table.get_symbols() if s.is_declared_global() and s.is_assigned())
    return names
