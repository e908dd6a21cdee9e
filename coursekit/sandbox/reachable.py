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
- then, repeatedly, every statement that needs a name a dropped statement binds (``X, y = make_moons(...,
  random_state=0)``, then ``Y = np.eye(2)[y]``, ``print(X_train.shape)``, a plotting function), provided it
  is ``inert``: it only binds plain names or defines a function, and what it calls can change nothing else
  (no given function, no draw from NumPy's global random generator, nothing that reads as changing a
  module's state or touching files). A statement that needs a dropped name but is not inert is kept, with
  everything it needs, and the analysis starts again;

and never a statement that is reached: one that binds or changes a name the submission's code looks up, or
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
    student_trees = [ast.parse(source) for source in student]
    student_nodes = [node for tree in student_trees for node in ast.walk(tree)]
    if any(star_import(node) for node in student_nodes) \
            or any(star_import(node) for statement in statements for node in ast.walk(statement)):
        return None
    needed = set().union(*(global_names(source) for source in student))
    imported = set().union(*(imported_modules(node) for node in student_nodes
                             if isinstance(node, (ast.Import, ast.ImportFrom))))
    student_binds = set().union(*(binds(node, ast.unparse(node)) for tree in student_trees for node in tree.body))
    dropped = unreachable(statements, needed, droppable - imported, student_binds)
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


def unreachable(statements, needed, droppable, student_binds=frozenset()):
    """ids of the given cells' statements to drop (see the module docstring); needed: the names the
    submission's code looks up; droppable: top-level module names whose imports may be dropped; student_binds:
    the names the submission's cells bind at their top level.

    A statement that needs a dropped name but is not ``inert`` is kept, with everything it needs, and the
    analysis starts again, until no such statement is left."""
    text = {id(s): ast.unparse(s) for s in statements}
    bound = {id(s): binds(s, text[id(s)]) for s in statements}
    used = {id(s): global_names(text[id(s)]) for s in statements}
    modules = set().union(*(bound[id(s)] for s in statements if isinstance(s, (ast.Import, ast.ImportFrom))))
    touched = {id(s): bound[id(s)] | changes(s, modules) for s in statements}
    shadowed = set(student_binds).union(*bound.values())
    forced = set()
    while True:
        reached, wanted, changed = set(forced), set(needed).union(*(used[i] for i in forced)), True
        while changed:
            changed = False
            for statement in statements:
                if id(statement) not in reached and touched[id(statement)] & wanted:
                    reached.add(id(statement))
                    wanted |= used[id(statement)]
                    changed = True
        dropped = {id(s) for s in statements if id(s) not in reached
                   and isinstance(s, (ast.Import, ast.ImportFrom)) and imported_modules(s)
                   and imported_modules(s) <= droppable}
        imported = set().union(*(bound[i] for i in dropped))
        plotting = set().union(*(bound[id(s)] for s in statements if id(s) in dropped
                                 and imported_modules(s) <= {"matplotlib"}))
        blocked, changed = set(), True
        while changed:
            gone = set().union(*(bound[i] for i in dropped))
            changed = False
            for statement in statements:
                if id(statement) in reached | dropped | blocked or not used[id(statement)] & gone:
                    continue
                if inert(statement, imported, gone - imported, plotting, modules - imported, shadowed):
                    dropped.add(id(statement))
                    changed = True
                else:
                    blocked.add(id(statement))
        if not blocked:
            return dropped
        forced |= blocked


# Built-in functions that change nothing outside the values they return (print writes to the worker's stderr).
PURE_BUILTINS = {"print", "len", "range", "min", "max", "sum", "abs", "round", "sorted", "list", "dict", "tuple",
                 "set", "frozenset", "zip", "enumerate", "str", "int", "float", "bool", "repr", "format",
                 "isinstance", "reversed", "any", "all", "map", "filter"}
# Attribute names that may change a module's global state (NumPy's random generator and settings, sys.path, ...).
STATEFUL = re.compile(r"random|seed|^set|config|^put|^place|^fill|copyto|insert|append|extend|update|chdir|"
                      r"environ|^rc|^use$|style|register|^state$", re.I)
# Attribute names that may touch files or processes, which an answer could read whatever the value's origin.
EFFECTS = re.compile(r"save|tofile|dump|write|^to_|remove|unlink|rename|mkdir|rmdir|replace|system|popen|kill|"
                     r"exit|chmod|chown|touch|^open$|load|read", re.I)


def inert(statement, imported, values, plotting, modules, shadowed=frozenset()):
    """Whether dropping statement, which needs a dropped name, can change nothing an answer reaches: it only
    binds plain names (or defines a function, with constant defaults and no decorator), and every call it makes
    when it runs is one of:

    - of a dropped package's function (``imported``: names the dropped imports bind) that cannot draw from
      NumPy's global random generator: matplotlib's (``plotting``), or one given ``random_state=<int>``;
    - on a value a dropped statement made (``values``: ``X.std()``, ``ax.plot(...)``);
    - of a pure built-in (``print``, ``len``, ...) that no code of the notebook rebinds (``shadowed``);
    - of a function of another module (``np.eye``), none of whose attribute names reads as changing state;

    and no attribute name in its callee reads as touching files or processes (``np.save``, ``fig.savefig``).
    """
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        header = [*statement.args.defaults, *(d for d in statement.args.kw_defaults if d is not None)]
        return not statement.decorator_list and not any(isinstance(n, ast.Call) for e in header for n in ast.walk(e))
    if isinstance(statement, ast.Assign):
        if not all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Starred)) for t in statement.targets
                   for n in ast.walk(t) if not isinstance(n, (ast.Store, ast.Load))):
            return False
    elif not isinstance(statement, ast.Expr):
        return False
    for call in executed_calls(statement):
        chain = attribute_chain(call.func)
        root = chain[0] if chain else None
        if any(EFFECTS.search(name) for name in chain[1:]):
            return False
        if root in values or (root in PURE_BUILTINS - shadowed and len(chain) == 1):
            continue
        if root in imported and (root in plotting or seeded(call)):
            continue
        if root in modules and len(chain) > 1 and not any(STATEFUL.search(name) for name in chain[1:]):
            continue
        return False
    return True


def executed_calls(statement):
    """The calls statement makes when it runs (not those inside the functions and lambdas it defines)."""
    calls, todo = [], [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Call):
            calls.append(node)
        if not isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node is statement:
            todo.extend(ast.iter_child_nodes(node))
    return calls


def attribute_chain(node):
    """``np.linalg.norm`` -> ["np", "linalg", "norm"]; [] when the callee is not a chain of names (a call's
    result, a subscript: then the value it starts from is what counts, as in ``X[0].sum()``)."""
    names = []
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
        node = node.func if isinstance(node, ast.Call) else node.value
    return [node.id, *reversed(names)] if isinstance(node, ast.Name) else []


def seeded(call):
    """Whether a call passes ``random_state`` as an integer literal (it cannot draw from NumPy's global
    generator then)."""
    return any(k.arg == "random_state" and isinstance(k.value, ast.Constant) and type(k.value.value) is int
               for k in call.keywords)


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


def binds(statement, source):
    """The names statement (whose source is source) binds in the namespace it runs in: assigned, imported
    (``import a.b as c`` also sets up ``a``), defined at its top level, or declared global and assigned or
    imported in a function."""
    module, *inner = scopes(source)
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
