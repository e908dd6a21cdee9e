"""The kit's nbgrader plug-ins, one class per module as in nbgrader's own ``preprocessors/``.

``install(c)`` puts them into nbgrader's pipelines; a course's nbgrader_config.py calls it, so plain
``nbgrader autograde`` and ``nbgrader generate_feedback`` in the course folder use them too:

- ``RebuildFromSource`` (rebuild.py) in Autograde's sanitizing steps, before nbgrader's DeduplicateIds and
  OverwriteCells: the graded notebook is the instructor's, with the student's answers and own cells in place
  (copied, deleted, moved or re-labelled cells; nbgrader_config.py switches ``add_missing_cells`` off);
- ``KernelSafeExecute`` (safe_execute.py) in place of nbgrader's Execute: a dead or stuck kernel costs only
  the cells it did not run, and its kernels start in the sandbox (``SandboxedKernelManager``);
- ``Referee`` (referee.py) after it: every test cell runs again outside the student's kernel;
- ``CheckCellMetadata`` (check_cell_metadata.py) in place of nbgrader's, in both of Autograde's pipelines:
  the same checks, with the metadata's schema checked once per process instead of once per cell;
- ``HideHiddenTests`` (hide_hidden_tests.py) last in GenerateFeedback: no hidden test code in feedback.

``install(c)`` also imports ``coursekit/course/gradebook.py``, so that in every nbgrader command of the course
SQLite waits for a locked gradebook and a new gradebook's schema revision is read without running alembic.
"""
from .check_cell_metadata import CheckCellMetadata
from .hide_hidden_tests import HideHiddenTests
from .rebuild import RebuildFromSource
from .referee import Referee
from .safe_execute import KernelSafeExecute

__all__ = ["CheckCellMetadata", "HideHiddenTests", "KernelSafeExecute", "RebuildFromSource", "Referee", "install"]


def install(c):
    """Put the kit's preprocessors into nbgrader's autograde and feedback pipelines of the config c."""
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata
    from nbgrader.preprocessors import DeduplicateIds, Execute

    from ..course import gradebook  # noqa: F401 - its import: SQLite waits for locks, new gradebooks are cheap
    from ..sandbox import SandboxedKernelManager
    ours = {Execute: KernelSafeExecute, NbgraderCheckCellMetadata: CheckCellMetadata}
    autograde = [ours.get(p, p) for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    autograde.insert(autograde.index(KernelSafeExecute) + 1, Referee)
    c.Autograde.autograde_preprocessors = autograde
    sanitize = [ours.get(p, p) for p in Autograde.class_traits()["sanitize_preprocessors"].default()]
    sanitize.insert(sanitize.index(DeduplicateIds), RebuildFromSource)
    c.Autograde.sanitize_preprocessors = sanitize
    c.Execute.kernel_manager_class = SandboxedKernelManager
    c.GenerateFeedback.preprocessors = GenerateFeedback.class_traits()["preprocessors"].default() + [HideHiddenTests]
