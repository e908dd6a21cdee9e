"""Executing a submission so that a dying or stuck kernel costs the student only the cells it did not run.

nbgrader's ``Execute`` lets a dead kernel (``os._exit``, a segfault, a kill by the grader's time limit) or a
kernel that ignores the interrupt after a cell's timeout escape as an exception; ``nbgrader autograde`` then
deletes the autograded notebook and records no grade. ``KernelSafeExecute`` (set in nbgrader_config.py as
the first of ``Autograde.autograde_preprocessors``) turns those cases into error outputs instead: the cell
that was running and every later code cell get an error, so their test cells score 0, while the cells that
ran before keep their outputs and their points. nbgrader's ``SaveAutoGrades`` then records the grades as
usual. Where the kernel stopped goes into the pipeline's resources (``kernel_stop``), where the Referee reads
it. The behaviour is the same whether or not a student's code could tell it is being graded.

A function that hangs costs one cell's time limit, not one per cell that calls it: when a cell runs past
``c.Execute.timeout`` and the interrupt stops it, the innermost answer function (an autograded answer cell's
grade_id, as the referee names them) that was running, found in the interrupt's traceback, is replaced in the
kernel by one that raises ``TimeoutError`` at once. The later cells that call it fail at once instead of each
waiting out the limit; they would have failed anyway, unless the function hangs only for some inputs. The
submission's time limit (``grade --timeout``) stays the bound on the whole notebook.

After the interrupt nbclient waits ``iopub_timeout`` (4 s) for the rest of the cell's output, and a kernel
whose output does not end by then counts as unresponsive. A cell that printed gigabytes may still have much
output on its way (which the grader reads and drops), so whether that wait ended in time depended on the
machine's load, and the same submission kept its later cells in one grading and lost them in the next. So
after the interrupt the grader first waits as long as the cell's output keeps arriving (``drain``, at most
``flood_wait`` seconds); then, if the cell printed anything, nbclient's wait for the kernel to go idle is
``flood_wait`` instead of ``iopub_timeout`` (the kernel may still be encoding its last large message, or the
grader decoding it: seconds without new output on a busy machine). A cell that ignores the interrupt costs
``iopub_timeout`` more when it printed nothing, ``flood_wait`` when it did.
"""
import asyncio
import ast
import time

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import CaselessStrEnum, Enum, Float, Integer

from ..course.notebooks import nbgrader_meta, solution_ids
from ..sandbox import instructor_folder

# The worker finds this tag in nbgrader's captured log to tell the instructor that a kernel stopped.
KERNEL_STOPPED = "coursekit: kernel stopped:"
# The error names this preprocessor gives the cell where the kernel stopped and the cells it did not run.
STOPPED_ERRORS = ("KernelDied", "KernelUnresponsive", "NotRun")
# The worker finds this tag in nbgrader's log to tell the instructor which function hung (tasks.hung_reason).
TIMED_OUT = "coursekit: timed out:"

# Defined silently in the kernel after a cell's time-out and called (and removed) by HUNG_EXPRESSION, which
# returns the name of the answer function it replaced, or "" (see the module's docstring). Only an interrupt
# that ended the cell counts (an earlier cell's error, or an interrupt the code caught, is not a hang), and
# only the answers' functions (the grade_ids of the solution cells, unwrapped: functools.wraps, lru_cache) are
# replaced, never the instructor's. The student's code may have broken what this uses: nothing is replaced then.
STUB_HUNG_FUNCTION = r"""
def _coursekit_stub(names, limit):
    import inspect, sys, types
    interrupted = getattr(sys, "last_type", None)
    traceback = getattr(sys, "last_traceback", None)
    sys.last_type = sys.last_value = sys.last_traceback = None
    if not (isinstance(interrupted, type) and issubclass(interrupted, KeyboardInterrupt)):
        return ""
    namespace = get_ipython().user_ns
    codes = {}
    for name in names:
        code = getattr(inspect.unwrap(namespace.get(name)), "__code__", None)
        if isinstance(code, types.CodeType):
            codes[code] = name
    found = ""
    while traceback is not None:
        found = codes.get(traceback.tb_frame.f_code, found)
        traceback = traceback.tb_next
    if found:
        scope = {"message": f"{found} ran past the {limit} s time limit in an earlier cell, so it is not called again"}
        exec(compile("def hung(*args, **kwargs):\n    raise TimeoutError(message)\n", "<time limit>", "exec"), scope)
        namespace[found] = scope["hung"]
    return found
"""
HUNG_EXPRESSION = "get_ipython().user_ns.pop('_coursekit_stub')(%r, %r)"


def function_name(text):
    """The identifier a user expression's text/plain repr ('relu') shows, or None (None, or not a name)."""
    try:
        name = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return name if isinstance(name, str) and name.isidentifier() else None


def error_output(ename, evalue):
    """A notebook error output with a one-line traceback (no source lines)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def not_run(stopped_in):
    """The error of a code cell after the one (a cell_name) where the kernel stopped: 'NotRun: ...'."""
    return f"NotRun: the kernel stopped while running {stopped_in}, so this cell was not run"


def kernel_stop(resources):
    """Where the notebook's kernel stopped, as KernelSafeExecute left it in the pipeline's resources: {"index":
    the cell's position, "cell": its cell_name, "error": its 'Name: message'}, or None when every cell ran."""
    return ((resources or {}).get("coursekit") or {}).get("kernel_stopped")


def cell_name(cell, index):
    """The cell's nbgrader grade_id, or its position when it has none."""
    return nbgrader_meta(cell).get("grade_id") or f"cell {index + 1}"


class KernelSafeExecute(Execute):
    """nbgrader's Execute, except that a dead or unresponsive kernel ends the run, not the grading.

    Configured like ``Execute`` (``c.Execute.timeout`` applies). The kernel is started by nbclient through
    ``c.Execute.kernel_manager_class``, the sandbox's SandboxedKernelManager, which applies the limits.
    """

    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate", help=(
        "How the kernel is stopped after the last cell. Immediate (a kill): every cell has run and its outputs "
        "are in, so a graceful shut-down would only let the kernel's interpreter tear down scikit-learn and "
        "matplotlib, about 0.6 s of CPU per submission (benchmarks/PROFILE.md).")).tag(config=True)

    max_output_mb = Integer(
        20, help="Output a notebook may produce, in MiB; what comes after is dropped as it arrives, so that a "
                 "submission printing gigabytes cannot fill the grader's memory").tag(config=True)

    flood_wait = Float(
        30, help="Seconds the grader waits, after interrupting a cell at its time limit, while the cell's output "
                 "is still arriving; and then, when the cell printed anything, for the kernel to go idle (instead "
                 "of iopub_timeout)").tag(config=True)
    flood_quiet = Float(1, help="Seconds without new output that end that wait").tag(config=True)

    traceback_mode = CaselessStrEnum(["", "Context", "Plain", "Verbose", "Minimal", "Docs"], "Plain", help=(
        "IPython's exception mode (%xmode) in the grading kernel. Plain shows each frame's file, line and code, "
        "as Python does; IPython's default, Context, adds the highlighted lines around each, which costs about "
        "20 ms per failing cell, 70 ms for the first one (the imports of its formatting), in-process; an "
        "untouched notebook fails every test cell. Feedback shows a test cell's error as its name and message "
        "either way (HideHiddenTests). Empty: the kernel's default.")).tag(config=True)

    async def async_start_new_kernel(self, **kwargs):
        """nbclient's start of the kernel, in traceback_mode unless extra_arguments set a mode already."""
        if self.traceback_mode and not any(a.startswith("--InteractiveShell.xmode") for a in self.extra_arguments):
            self.extra_arguments = [*self.extra_arguments, f"--InteractiveShell.xmode={self.traceback_mode}"]
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def preprocess(self, nb, resources, km=None):
        """Execute every code cell; after a kernel failure, mark the remaining code cells as not run."""
        self.stopped_in = None
        if resources is not None:  # the Referee reads it (kernel_stop)
            resources.setdefault("coursekit", {})["kernel_stopped"] = None
        self.output_bytes = 0
        self.output_capped = False
        return super().preprocess(nb, resources, km)

    def create_kernel_manager(self):
        """nbclient's kernel manager, told where the instructor's copy of the assignment's files is (the
        sandbox binds those in place of the submission's)."""
        km = super().create_kernel_manager()
        if hasattr(km, "instructor_folder"):
            km.instructor_folder = instructor_folder(
                self.config, (self.resources or {}).get("nbgrader", {}).get("assignment"))
        return km

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's output handling, until the notebook's output reaches max_output_mb."""
        size = sum(len(str(v)) for v in msg.get("content", {}).values())
        self.output_bytes += size
        self.cell_output_bytes += size
        if self.output_bytes <= self.max_output_mb << 20:
            return super().output(outs, msg, display_id, cell_index)
        if not self.output_capped:
            self.output_capped = True
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=f"\n[output cut: the notebook printed more than {self.max_output_mb} MiB]\n"))
        return None

    def preprocess_cell(self, cell, resources, index):
        """Execute one cell, or mark it not run when the kernel has already stopped."""
        if self.stopped_in is not None:
            if cell.cell_type == "code":
                cell.outputs = [error_output(*not_run(self.stopped_in).split(": ", 1))]
            return cell, resources
        self.timed_out = False
        self.cell_output_bytes = 0
        iopub_timeout = self.iopub_timeout
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            return self.stop(cell, index, "KernelDied",
                             "the kernel died while running this cell (a crash, an exit, or the grading time limit)")
        except CellTimeoutError:
            return self.stop(cell, index, "KernelUnresponsive",
                             f"this cell ran past the {self.timeout} s limit and the kernel did not stop when "
                             "interrupted")
        finally:
            self.iopub_timeout = iopub_timeout
        if self.timed_out:
            self.stub_hung_function(cell_name(cell, index))
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out = True
        reply = await super()._async_handle_timeout(timeout, cell)
        await self.drain()
        if self.cell_output_bytes:  # nbclient reads iopub_timeout after this returns
            self.iopub_timeout = max(self.iopub_timeout, self.flood_wait)
        return reply

    async def drain(self):
        """Wait while the cell's output keeps arriving (nbclient reads it meanwhile), until flood_quiet seconds
        pass without any or flood_wait seconds in all (the module's docstring)."""
        deadline = time.monotonic() + self.flood_wait
        seen = None
        while seen != self.cell_output_bytes and time.monotonic() < deadline:
            seen = self.cell_output_bytes
            await asyncio.sleep(self.flood_quiet)

    def stub_hung_function(self, where):
        """After the cell where (a grade_id) was interrupted at its time limit: replace the function that hung
        by one that raises at once, and log its name for the grader; nothing when none was found."""
        try:
            reply = run_sync(self.kc.execute_interactive)(
                STUB_HUNG_FUNCTION, silent=True, store_history=False, allow_stdin=False,
                user_expressions={"hung": HUNG_EXPRESSION % (solution_ids(self.nb), self.timeout)},
                output_hook=lambda msg: None,
                timeout=self.timeout or 30)
            found = reply["content"].get("user_expressions", {}).get("hung", {})
        except Exception as error:  # noqa: BLE001 - an unresponsive kernel: the next cell finds it out
            self.log.warning("could not stop the function that hung in %s from being called again: %s", where, error)
            return
        name = function_name(found.get("data", {}).get("text/plain", "")) if found.get("status") == "ok" else None
        if name:
            self.log.error("%s %s in %s", TIMED_OUT, name, where)

    def stop(self, cell, index, ename, message):
        """Record the kernel failure in the cell, stop the kernel, and log it for the grader."""
        self.stopped_in = cell_name(cell, index)
        cell.outputs = list(cell.get("outputs", [])) + [error_output(ename, message)]
        if self.resources is not None:
            self.resources.setdefault("coursekit", {})["kernel_stopped"] = {
                "index": index, "cell": self.stopped_in, "error": f"{ename}: {message}"}
        self.log.error("%s %s in %s", KERNEL_STOPPED, ename, self.stopped_in)
        self.kill_kernel()
        return cell, self.resources

    def kill_kernel(self):
        """Kill the kernel at once if it still runs (it may be stuck in a loop that ignores interrupts)."""
        try:
            run_sync(self._kill_kernel)()
        except Exception as error:  # the kernel may be half gone; the run ends either way
            self.log.warning("could not shut the stopped kernel down: %s", error)

    async def _kill_kernel(self):
        if self.km is not None and await ensure_async(self.km.is_alive()):
            await ensure_async(self.km.shutdown_kernel(now=True))
