"""What the referee's worker runs of the instructor's given cells: all but the plotting and data libraries that
the submission's code cannot reach.

The worker exists to call the submission's functions (preprocessors/referee.py). Run whole, the given cells
make every worker import what the notebook imports for its data and plots (scikit-learn and matplotlib:
about 2 CPU s per submission, benchmarks/PROFILE.md) though no answer function uses them. ``worker_cells``
drops, from the given cells only:

- an ``import`` of one of the ``droppable`` packages (``c.Referee.droppable_imports``: matplotlib,
  scikit-learn, seaborn), unless it is one of the instructor's helper modules or a package the submission
  imports itself (a given ``import sklearn.datasets`` makes ``sklearn.datasets`` an attribute of the
  ``sklearn`` a student's function imports);
- then, repeatedly, every statement that mentions a name a dropped statement binds (``X, y = make_moons(...)``,
  then ``Y = np.eye(2)[y]``, ``print(X_train.shape)``, a plotting function);

but never a statement that is reached: one that binds or changes a name the submission's code looks up, or
that a reached statement looks up, transitively. A name is looked up when the code reads it from the notebook's
namespace (``symtable``: a function's parameters and locals are not); a statement changes what it assigns to
(``D["X"] = ...``, ``cfg.x = ...``: ``D``, ``cfg``), what it passes to a call, and the object whose method it
calls unless that object came from an import (``D.update(...)``: ``D``; ``np.eye(2)``: not ``np``); a
statement that is only an expression (``np.random.seed(0)``, ``sys.path.insert(...)``) and a compound one
(``for``, ``with``, ``if``) change everything they mention.

Code that can reach the namespace without naming what it takes (``globals()``, ``eval``, ``__main__``, frames,
IPython's ``user_ns``, ...) in any cell, a star import, code that is not plain Python (a magic), or more than
``MAX_SOURCE`` characters of the submission's code turns the pruning off: every given cell then runs whole.
The submission's own cells always run whole. Pruning changes only the worker; the notebook's kernel ran every
cell, and a test cell scores only if it passed in both. Nothing here runs the submission's code: it is only
compiled (into a code object that is thrown away) and read with ``ast`` and ``symtable``.
"""
import ast
import re
import symtable
import warnings

DROPPABLE = ("matplotlib", "sklearn", "seaborn")
MAX_SOURCE = 256 << 10  # characters of the submission's code analysed at most (compiling costs the grader memory)
# Ways to look a global up without naming it: then no statement can be shown unreachable.
DYNAMIC = re.compile(r"\b(globals|vars|locals|dir|eval|exec|compile|__import__|import_module|get_ipython|__main__|"
                     r"__builtins__|builtins|__globals__|__dict__|f_globals|f_back|f_locals|tb_frame|gi_frame|"
                     r"cr_frame|user_ns|modules|inspect|currentframe|_getframe|gc|ctypes|pickle|importlib)\b")
ANALYSIS_ERRORS = (SyntaxError, ValueError, TypeError, AttributeError, MemoryError, RecursionError)


def worker_cells(cells, helper_modules=(), droppable=DROPPABLE):
    """The source of each cell as the worker should run it.

    cells: (source, given) in notebook order; given is True for the instructor's locked cells that are neither
    answers nor tests (referee.given), False for the submission's cells, which stay whole.
    helper_modules: top-level names of the instructor's modules (sandbox.instructor_modules), never dropped;
    droppable: top-level names of the packages whose imports may be dropped.
    A given cell that loses no statement is returned unchanged, one that loses all becomes "" (the cells keep
    their positions: the worker counts them when one crashes).
    """
    whole = [source for source, _ in cells]
    if not all(isinstance(source, str) for source in whole):
        return whole
    student = [source for source, given in cells if not given and source.strip()]
    if sum(map(len, student)) > MAX_SOURCE or any(DYNAMIC.search(source) for source in whole):
        return whole
    try:
        return prune(cells, student, set(droppable) - set(helper_modules)) or whole
    except ANALYSIS_ERRORS:  # symtable's and compile's checks go further than ast.parse's
        return whole


def prune(cells, student, droppable):
    """worker_cells' answer, or None when some code is not plain Python or holds a star import."""
    if not all(map(compiles, student)):
        return None
    trees = [ast.parse(source) if given else None for source, given in cells]
    statements = [statement for tree in trees if tree is not None for statement in tree.body]
    if any(star_import(node) for source in student for node in ast.walk(ast.parse(source))) \
            or any(star_import(node) for statement in statements for node in ast.walk(statement)):
        return None
    needed = set().union(*(global_names(source) for source in student))
    imported = set().union(*(imported_modules(node) for source in student for node in ast.walk(ast.parse(source))
                             if isinstance(node, (ast.Import, ast.ImportFrom))))
    dropped = unreachable(statements, needed, droppable - imported)
    pruned = []
    for (source, _), tree in zip(cells, trees):
        kept = [s for s in tree.body if id(s) not in dropped] if tree is not None else None
        if kept is None or len(kept) == len(tree.body):
            pruned.append(source)
            continue
        if kept and kept[0] is not tree.body[0] and docstring(kept[0]):
            kept.insert(0, ast.Pass())  # a string that comes first would become the namespace's __doc__
        pruned.append(ast.unparse(ast.Module(kept, [])))
    return pruned


def unreachable(statements, needed, droppable):
    """ids of the given cells' statements to drop (see the module docstring); needed: the names the
    submission's code looks up; droppable: top-level module names whose imports may be dropped."""
    bound = {id(s): binds(s) for s in statements}
    used = {id(s): global_names(ast.unparse(s)) for s in statements}
    modules = set().union(*(bound[id(s)] for s in statements if isinstance(s, (ast.Import, ast.ImportFrom))))
    touched = {id(s): bound[id(s)] | changes(s, modules) for s in statements}
    reached, needed, changed = set(), set(needed), True
    while changed:
        changed = False
        for statement in statements:
            if id(statement) not in reached and touched[id(statement)] & needed:
                reached.add(id(statement))
                needed |= used[id(statement)]
                changed = True
    dropped = {id(s) for s in statements if id(s) not in reached and isinstance(s, (ast.Import, ast.ImportFrom))
               and imported_modules(s) and imported_modules(s) <= droppable}
    changed = True
    while changed:
        gone = set().union(*(bound[i] for i in dropped))
        more = {id(s) for s in statements if id(s) not in reached | dropped and used[id(s)] & gone}
        changed = bool(more)
        dropped |= more
    return dropped


def docstring(statement):
    """Whether statement is a bare string, which Python takes as a docstring when it comes first."""
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and isinstance(statement.value.value, str)


def compiles(source):
    """Whether source compiles as plain Python (``return`` outside a function passes ast.parse, not this)."""
    try:
        with warnings.catch_warnings():  # a SyntaxWarning of the submission's code is not the grader's to show
            warnings.simplefilter("ignore")
            compile(source, "<cell>", "exec", dont_inherit=True)
    except ANALYSIS_ERRORS:
        return False
    return True


def star_import(node):
    """Whether node is ``from module import *``, which binds names no one can list beforehand."""
    return isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)


def imported_modules(node):
    """Top-level names of the modules an import imports (``from .x import y``: none)."""
    if isinstance(node, ast.ImportFrom):
        return {node.module.split(".")[0]} if node.module and not node.level else set()
    return {alias.name.split(".")[0] for alias in node.names}


def scopes(source):
    """The symbol tables of source: its module's, then those of every function and class inside."""
    tables = [symtable.symtable(source, "<cell>", "exec")]
    for table in tables:
        tables.extend(table.get_children())
    return tables


def global_names(source):
    """Every name source may look up or bind in the namespace it runs in: all names of its top level and of its
    class bodies (which look a name up globally before they assign it), and the names its functions and
    comprehensions do not keep local (their globals, free names)."""
    module, *inner = scopes(source)
    names = set(module.get_identifiers())
    for table in inner:
        if table.get_type() == "class":
            names.update(table.get_identifiers())
        else:
            names.update(symbol.get_name() for symbol in table.get_symbols() if not symbol.is_local())
    return names


def binds(statement):
    """The names statement binds in the namespace it runs in: assigned, imported (``import a.b as c`` also sets
    up ``a``), defined at its top level, or declared global and assigned or imported in a function."""
    module, *inner = scopes(ast.unparse(statement))
    names = {s.get_name() for s in module.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    for table in inner:
        names.update(s.get_name() for s in table.get_symbols()
                     if s.is_declared_global() and (s.is_assigned() or s.is_imported()))
    for node in ast.walk(statement):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def changes(statement, modules):
    """Names whose objects statement may change besides binding them: see the module docstring. modules: the
    names the given cells bind by imports (calling a module's function is not taken to change the module)."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return set()
    if not isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        return {node.id for node in ast.walk(statement) if isinstance(node, ast.Name)}
    names = set()
    targets = statement.targets if isinstance(statement, (ast.Assign, ast.Delete)) else [statement.target]
    for target in targets:
        names.update(root for node in ast.walk(target) if (root := root_name(node)))
    for node in ast.walk(statement):
        if isinstance(node, ast.Call):
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            names.update(root for argument in arguments for sub in ast.walk(argument) if (root := root_name(sub)))
            receiver = root_name(node.func.value) if isinstance(node.func, ast.Attribute) else None
            if receiver and receiver not in modules:
                names.add(receiver)
    return names


def root_name(node):
    """The name at the root of an attribute or subscript chain (``D["X"].y``: ``D``), or None."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
