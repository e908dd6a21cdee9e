"""RebuildFromSource: grade what the student wrote, not the shape the notebook arrived in.

Why this exists: students copy, paste, delete, split and move cells, and nbgrader 0.9.6 cannot grade such
notebooks. With ``c.OverwriteCells.add_missing_cells = True`` a correct solution got 0 with "could not be
graded":

- a copied cell (duplicate ``grade_id``): DeduplicateIds empties the copy's nbgrader metadata to ``{}``, then
  ``OverwriteCells.add_missing_task_cells`` reads ``cell.metadata.nbgrader["grade_id"]`` of every cell that has
  nbgrader metadata: ``KeyError: 'grade_id'``;
- two test cells deleted: ``add_missing_grade_cells`` puts a deleted grade cell after the source cell that
  precedes it, looked up among the *grade and solution* cells of the submission only, so a deleted
  ``test_training`` (preceded by the given cell ``plots``) fails with ``KeyError: 'plots'``;
- and without ``add_missing_cells`` a deleted test cell is simply not run, and a moved one runs where the
  student put it (above the answer: 0 for a correct answer).

So nbgrader_config.py switches ``add_missing_cells`` off, and this preprocessor runs in Autograde's sanitizing
pipeline before DeduplicateIds and OverwriteCells (``install(c)``). It builds the notebook that is executed from
the instructor's: the instructor's cells (their content and role from the gradebook, through nbgrader's API;
their order from the source notebook) in the instructor's order, and the student's work put in its place:

- every *locked* instructor cell (given code, tests, markdown) appears exactly once, with the instructor's source
  and nbgrader metadata: a deleted one comes back in place, a moved one goes back to its place, copies of it are
  dropped, and an edited one is restored (as nbgrader's OverwriteCells would);
- every *answer* cell (nbgrader's solution cells) takes the student's code, with the instructor's metadata, so a
  student can never change points or turn an answer into a test. When the student's notebook holds several cells
  with the answer's grade_id (a copied or a split cell), the one that counts is the one in force when its tests
  ran: the notebook ran top to bottom, so it is the last copy above the last of the answer's test cells (the test
  cells that follow the answer in the instructor's notebook, up to the next answer). Copies above it ran before
  it (a split cell's first half defines helpers the second uses) and are kept as the student's own cells; copies
  below the tests are later experiments, which the tests never saw: they are dropped, so a correct answer is not
  spoiled by a scratch copy below its tests, and a wrong answer does not gain from a correct copy pasted below
  the tests that failed it: it scores what its clean twin scores. When no copy lies above a test (the tests were
  moved up, or deleted), the last copy counts. A deleted answer cell comes back empty, so that an answer the
  student wrote into a cell of their own is not overwritten by the release's stub;
- the student's own cells (no nbgrader metadata, or metadata naming a cell the gradebook does not know: a
  re-labelled cell) are kept, without nbgrader metadata, right after the instructor cell that preceded them in the
  student's notebook (in their order), so helper functions a student wrote still run before the tests. A dropped
  copy is transparent for this: a cell below it follows the instructor cell above it.

A student's cell never becomes a locked or graded cell, and nothing of the student's metadata survives on an
instructor cell. Cells whose nbgrader metadata the student tampered with (a solution marked as graded with
points, an unlocked or re-pointed test) get the instructor's role back, so they cannot gain. After this,
DeduplicateIds and OverwriteCells find nothing to change, and CheckCellMetadata validates the result.

Every repair is logged as a warning that starts with ``REPAIRED`` (nbgrader's log of the submission), and the
grade command puts a summary of them into the submission's reason (grading/tasks.py).
"""
import copy
import os
import re
from dataclasses import dataclass

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

REPAIRED = "coursekit: notebook repaired:"


@dataclass(frozen=True)
class InstructorCell:
    """One cell of the instructor's notebook, as the gradebook knows it."""
    name: str
    cell_type: str
    source: str
    locked: bool
    checksum: str = None
    grade: bool = False
    solution: bool = False
    task: bool = False
    points: float = None

    @property
    def answer(self):
        """Whether the student writes this cell (nbgrader's solution cells, manually graded answers included)."""
        return self.solution

    def nbgrader_metadata(self):
        """The nbgrader metadata this cell has in the instructor's release (schema 3)."""
        meta = {"grade": self.grade, "grade_id": self.name, "locked": self.locked, "schema_version": 3,
                "solution": self.solution, "task": self.task, "cell_type": self.cell_type}
        if self.grade or self.task:
            meta["points"] = self.points
        if self.checksum:
            meta["checksum"] = self.checksum
        return meta


def nbgrader_meta(cell):
    """The cell's nbgrader metadata, {} when it has none (or something that is not a dict)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def normalised(source):
    """A cell's source for comparison: nbformat lists joined, line endings and outer blank lines ignored."""
    if isinstance(source, list):
        source = "".join(source)
    return source.replace("\r\n", "\n").strip()


HIDDEN = re.compile(r"^[^\n]*BEGIN HIDDEN TESTS.*?END HIDDEN TESTS[^\n]*$", flags=re.S | re.M)


def as_released(source):
    """What the student saw of a locked cell: the source without its hidden tests, blank lines left out."""
    lines = HIDDEN.sub("", normalised(source)).split("\n")
    return [line.rstrip() for line in lines if line.strip()]


def tests_of(instructor):
    """answer name -> the grade cells that follow it in the instructor's order, up to the next answer."""
    tests, current = {}, None
    for cell in instructor:
        if cell.answer:
            current = cell.name
            tests[current] = []
        elif cell.grade and current is not None:
            tests[current].append(cell.name)
    return tests


def in_place(order, weights=None):
    """The positions of order (instructor indices in the student's order) that kept their relative order: the
    increasing subsequence of the largest weight (default 1 each); the others were moved."""
    if not order:
        return set()
    weights = weights or [1.0] * len(order)
    best = list(weights)
    back = [-1] * len(order)
    for i in range(len(order)):
        for j in range(i):
            if order[j] < order[i] and best[j] + weights[i] > best[i]:
                best[i], back[i] = best[j] + weights[i], j
    i = max(range(len(order)), key=best.__getitem__)
    kept = set()
    while i != -1:
        kept.add(i)
        i = back[i]
    return kept


def instructor_cell(cell, ic):
    """The student's cell (or a new one) made into the instructor's cell ic: type, metadata, and for a locked
    cell the instructor's source."""
    if cell is not None:
        new = nbformat.from_dict(copy.deepcopy(cell))
    else:
        new = nbformat.v4.new_code_cell("") if ic.cell_type == "code" else nbformat.v4.new_markdown_cell("")
    if new.cell_type != ic.cell_type:
        new.cell_type = ic.cell_type
        if ic.cell_type == "code":
            new.outputs, new.execution_count = [], None
        else:
            new.pop("outputs", None)
            new.pop("execution_count", None)
    if not ic.answer:  # a locked cell: the instructor's source; an answer: the student's (empty when deleted)
        new.source = ic.source
    metadata = {k: v for k, v in new.get("metadata", {}).items() if k not in ("nbgrader", "editable", "deletable")}
    if ic.locked:
        metadata.update(editable=False, deletable=False)
    metadata["nbgrader"] = ic.nbgrader_metadata()
    new.metadata = nbformat.from_dict(metadata)
    return new


def own_cell(cell):
    """The student's cell as a plain cell of theirs: no nbgrader metadata, nothing locked."""
    new = nbformat.from_dict(copy.deepcopy(cell))
    for key in ("nbgrader", "editable", "deletable"):
        new.get("metadata", {}).pop(key, None)
    return new


def tampered(cell, ic):
    """What the student changed of the instructor cell's nbgrader metadata, as short phrases."""
    meta, changes = nbgrader_meta(cell), []
    for key in ("grade", "solution", "locked", "task"):
        if bool(meta.get(key, False)) != getattr(ic, key):
            changes.append(f"{key} {getattr(ic, key)} -> {bool(meta.get(key, False))}")
    if (ic.grade or ic.task) and meta.get("points") is not None:
        try:
            if float(meta["points"]) != float(ic.points):
                changes.append(f"points {ic.points:g} -> {meta['points']}")
        except (TypeError, ValueError):
            changes.append(f"points {ic.points:g} -> {meta['points']!r}")
    elif not (ic.grade or ic.task) and meta.get("points"):
        changes.append(f"points given to a cell that has none ({meta['points']})")
    if cell.get("cell_type") != ic.cell_type:
        changes.append(f"cell type {ic.cell_type} -> {cell.get('cell_type')}")
    return changes


def rebuild(nb, instructor):
    """Rebuild nb (in place) from the instructor's cells (a list of InstructorCell in the instructor's order);
    return the list of repairs made, as short phrases (empty when the notebook had the instructor's shape)."""
    known = {ic.name: ic for ic in instructor}
    index = {ic.name: i for i, ic in enumerate(instructor)}
    notes = []
    copies = {}      # grade_id -> positions of the student's cells that carry it
    stray = []       # positions of cells with nbgrader metadata of a cell the gradebook does not know
    for position, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if meta.get("grade_id") in known:
            copies.setdefault(meta["grade_id"], []).append(position)
        elif meta.get("grade_id") or any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
            stray.append(position)

    kept, dropped = {}, set()  # kept: grade_id -> position of the copy that counts; dropped: copies left out
    tests = tests_of(instructor)
    for name, positions in copies.items():
        ic = known[name]
        if ic.answer:
            seen = [p for t in tests.get(name, []) for p in copies.get(t, [])]
            before = [p for p in positions if seen and p < max(seen)]
            chosen = before[-1] if before else positions[-1]
            kept[name] = chosen
            # copies above the chosen one stay as the student's own cells (below, in the anchor loop)
            later = [p for p in positions if p > chosen]
            dropped.update(later)
            if len(positions) > 1:
                notes.append(f"{name} in {len(positions)} cells: the last one "
                             + ("above its tests counts" if before else "counts (none is above its tests)")
                             + (f", {len(later)} below them dropped" if later else "")
                             + (f", {len(positions) - 1 - len(later)} above it kept as the student's own cells"
                                if len(positions) - 1 > len(later) else ""))
        else:
            kept[name] = positions[0]
            dropped.update(positions[1:])
            if len(positions) > 1:
                notes.append(f"{name} in {len(positions)} cells: the copies dropped")
    for position in stray:
        meta = nbgrader_meta(nb.cells[position])
        notes.append(f"a cell marked as nbgrader cell {meta.get('grade_id') or '(no grade_id)'}, which the "
                     "instructor's notebook does not have, kept as the student's own cell")

    # the student's own cells follow the instructor cell (a copy that counts) above them
    attached, anchor = {None: []}, None
    chosen_at = {p: name for name, p in kept.items()}
    for position, cell in enumerate(nb.cells):
        if position in chosen_at:
            anchor = chosen_at[position]
        elif position in dropped:
            continue
        else:  # the student's own cell, a copy kept as one, or a cell re-labelled with an unknown grade_id
            attached.setdefault(anchor, []).append(own_cell(cell))

    order = [index[chosen_at[p]] for p in sorted(chosen_at)]
    # when either could have moved, say the test (or the given cell) moved, not the student's answer
    stay = in_place(order, [1.001 if instructor[i].answer else 1.0 for i in order])
    moved = [instructor[i].name for k, i in enumerate(order) if k not in stay]
    if moved:
        notes.append(f"moved back to their place: {', '.join(moved)}")

    cells, restored, emptied, edited, changed = list(attached[None]), [], [], [], []
    for ic in instructor:
        student = nb.cells[kept[ic.name]] if ic.name in kept else None
        if student is None:
            (emptied if ic.answer else restored).append(ic.name)
        else:
            changes = tampered(student, ic)
            if changes:
                changed.append(f"{ic.name} ({', '.join(changes)})")
            if not ic.answer and as_released(student.get("source", "")) != as_released(ic.source):
                edited.append(ic.name)
        cells.append(instructor_cell(student, ic))
        cells.extend(attached.get(ic.name, []))
    if restored:
        notes.append(f"deleted cells restored: {', '.join(restored)}")
    if emptied:
        notes.append(f"deleted answer cells restored empty: {', '.join(emptied)}")
    if edited:
        notes.append(f"edited locked cells restored: {', '.join(edited)}")
    if changed:
        notes.append(f"nbgrader metadata reset: {'; '.join(changed)}")

    nb.cells = cells
    fix_cell_ids(nb)
    return notes


def fix_cell_ids(nb):
    """Unique cell ids for nbformat 4.5 and later; none before (ids are not allowed there)."""
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
        seen = set()
        for cell in nb.cells:
            if not cell.get("id") or cell["id"] in seen:
                cell["id"] = os.urandom(4).hex()
            seen.add(cell["id"])
    else:
        for cell in nb.cells:
            cell.pop("id", None)


def notebook_cells(nb):
    """The instructor's cells of a release (or source) notebook, from its nbgrader metadata, in order."""
    cells = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade_id"):
            cells.append(InstructorCell(meta["grade_id"], cell.cell_type, normalised(cell.source),
                                        bool(meta.get("locked")), meta.get("checksum"), bool(meta.get("grade")),
                                        bool(meta.get("solution")), bool(meta.get("task")), meta.get("points")))
    return cells


def gradebook_cells(db_url, assignment, notebook, order=()):
    """The instructor's cells of the notebook from the gradebook, in the order of the names in order (the source
    notebook's grade_ids); cells order does not name follow in the gradebook's order."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        found = gb.find_notebook(notebook, assignment)
        grades = {c.name: c.max_score for c in found.grade_cells}
        tasks = {c.name: c.max_score for c in found.task_cells}
        solutions = {c.name for c in found.solution_cells}
        cells = {c.name: InstructorCell(c.name, c.cell_type, c.source or "", bool(c.locked), c.checksum,
                                        grade=c.name in grades, solution=c.name in solutions, task=c.name in tasks,
                                        points=grades.get(c.name, tasks.get(c.name)))
                 for c in found.source_cells}
    ordered = [cells[name] for name in dict.fromkeys(order) if name in cells]
    return ordered + [cell for name, cell in cells.items() if name not in set(order)]


class RebuildFromSource(NbGraderPreprocessor):
    """nbgrader autograde preprocessor (sanitizing, before DeduplicateIds and OverwriteCells): rebuild the
    submitted notebook from the instructor's cells, with the student's answers and own cells in their places."""

    enabled = Bool(True, help="Rebuild each submitted notebook from the instructor's notebook.").tag(config=True)

    def source_order(self, assignment, notebook):
        """The grade_ids of the instructor's source notebook, in order ([] when it cannot be read)."""
        from nbgrader.coursedir import CourseDirectory
        coursedir = CourseDirectory(parent=self)
        path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", assignment), f"{notebook}.ipynb")
        try:
            source = nbformat.read(path, as_version=4)
        except Exception as error:  # noqa: BLE001 - any unreadable source: fall back to the gradebook's order
            self.log.warning("%s could not be read (%s): the gradebook's cell order is used", path, error)
            return []
        return [nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("grade_id")]

    def preprocess(self, nb, resources):
        if not self.enabled:
            return nb, resources
        info = resources["nbgrader"]
        order = self.source_order(info["assignment"], info["notebook"])
        instructor = gradebook_cells(info["db_url"], info["assignment"], info["notebook"], order)
        notes = rebuild(nb, instructor)
        for note in notes:
            self.log.warning("%s %s: %s", REPAIRED, info["notebook"], note)
        return nb, resources
