"""Drive JupyterLab in a real browser: a Jupyter server of coursekit.lab, Debian's Chromium, a notebook page.

The server is the same ``jupyter lab`` that ``make lab`` and ``make formgrader`` start, plus a free port
(port 0, read back from the server's own info file), no browser of its own, and Jupyter state (runtime,
settings, workspaces, config) in a temporary folder. Chromium is /usr/bin/chromium, started by Playwright
with the flags a closed network needs; nothing is downloaded.
"""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # skip_unless_browser() skips every test that would use it
    expect = None

ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots for a person to look at (ignored by git)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Playwright adds --headless itself (headless=True) and --user-data-dir (the fresh folder given to it).
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_SECONDS = 90
PAGE_SECONDS = 60  # loading JupyterLab, starting a kernel
RUN_SECONDS = 180  # running cells (the notebook trains its network twice)
ERROR_MIME = "application/vnd.jupyter.stderr"  # how JupyterLab renders tracebacks (and stderr)


def skip_unless_browser():
    """Skip the calling test, with the reason, when Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed: pip install -r requirements.txt")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium; "
                    ".ci/run does it in CI)")


class JupyterServer:
    """A running ``jupyter lab`` of a coursekit.lab.LabCommand, on a free loopback port, with a token."""

    def __init__(self, command, state):
        """Start command with its Jupyter state (runtime, config, settings, workspaces) in the folder state."""
        self.state = Path(state)
        self.runtime = self.state / "runtime"
        self.log_path = self.state / "server.log"
        env = dict(command.env)
        for variable, folder in [("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config"),
                                 ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                                 ("IPYTHONDIR", "ipython")]:
            env[variable] = str(self.state / folder)
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        self.quiet_notifications()
        argv = command.argv + ["--no-browser", "--ServerApp.port=0", "--ServerApp.port_retries=0"]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(argv, cwd=command.cwd, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.info = None

    def quiet_notifications(self):
        """No 'get notified about Jupyter news?' toast over the notebook (JupyterLab's own setting)."""
        setting = self.state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        setting.parent.mkdir(parents=True, exist_ok=True)
        setting.write_text(json.dumps({"fetchNews": "false"}))

    def log_tail(self, lines=30):
        """The last lines of the server's log, to put into a failure message."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self):
        """Wait for the server's info file (port, token) and for its API to answer; fail with its log if not."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"jupyter lab exited with status {self.process.returncode} while starting:\n"
                            f"{self.log_tail()}")
            info = self.read_info()
            if info and self.api_answers(info):
                self.info = info
                return self
            time.sleep(0.5)
        pytest.fail(f"jupyter lab did not answer within {SERVER_START_SECONDS} s:\n{self.log_tail()}")

    def read_info(self):
        """The server's info file (url, port, token, root_dir), or None while it is not (completely) written."""
        try:
            return json.loads((self.runtime / f"jpserver-{self.process.pid}.json").read_text())
        except (OSError, ValueError):
            return None

    @staticmethod
    def api_answers(info):
        """Whether the server described by info answers /api/status with its token."""
        request = urllib.request.Request(info["url"] + "api/status",
                                         headers={"Authorization": f"token {info['token']}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def url(self, path):
        """The address of path on the server, with the token (as in the URL Jupyter prints)."""
        return f"{self.info['url']}{path.lstrip('/')}?token={self.info['token']}"

    def stop(self):
        """Shut the server down through its API (it stops its kernels too); terminate, then kill, if it hangs."""
        if self.process.poll() is None and self.info:
            request = urllib.request.Request(self.info["url"] + "api/shutdown", method="POST",
                                             headers={"Authorization": f"token {self.info['token']}"})
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except (urllib.error.URLError, OSError):
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_chromium(playwright, profile):
    """Debian's Chromium, headless, with a fresh profile folder and the flags of a closed network."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS, viewport=VIEWPORT)


def chromium_context(tmp_path_factory):
    """A browser context of Debian's Chromium with a fresh profile, closed with Playwright at the end (a generator,
    for a fixture)."""
    skip_unless_browser()
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    try:
        context = start_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield context
        finally:
            context.close()
    finally:
        playwright.stop()


def artifact(name):
    """The path of artifacts/<name>.png, the folder made."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


def screenshot(page, name):
    """Save the page's view as artifacts/<name>.png."""
    page.screenshot(path=artifact(name))


def copy_release(release, root, folder):
    """A fresh copy of the release folder as root/folder; returns the notebook's path relative to root."""
    shutil.copytree(release, Path(root) / folder)
    return f"{folder}/{next(Path(release).glob('*.ipynb')).name}"


class NotebookPage:
    """A notebook open in JupyterLab, used as a student does: menus, keyboard, the CodeMirror editor."""

    def __init__(self, page):
        self.page = page
        self.cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")

    @classmethod
    def open(cls, page, server, path, cell_count):
        """Open path in page, in a JupyterLab workspace of its own; wait for its cell_count cells, an idle kernel.

        With path None, open the server's start page (the address Jupyter prints), which must show a notebook.
        """
        if path is None:
            page.goto(server.url(""))
        else:
            workspace = re.sub(r"[^A-Za-z0-9]+", "-", path)
            page.goto(server.url(f"lab/workspaces/{workspace}/tree/{path}"))
        notebook = cls(page)
        expect(notebook.cells, f"JupyterLab did not show the {cell_count} cells of {path or 'its start page'}"
               ).to_have_count(cell_count, timeout=PAGE_SECONDS * 1000)
        notebook.wait_kernel_idle()
        return notebook

    def wait_kernel_idle(self):
        """Wait until the notebook's kernel is idle."""
        expect(self.page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status=idle]"),
               "the notebook's kernel did not become idle").to_be_attached(timeout=RUN_SECONDS * 1000)

    def wait_no_cell_running(self):
        """Wait until no cell is running or queued (no [*] prompt), then for an idle kernel."""
        expect(self.page.locator(".jp-NotebookPanel .jp-InputArea-prompt", has_text="[*]"),
               "cells were still running").to_have_count(0, timeout=RUN_SECONDS * 1000)
        self.wait_kernel_idle()

    def menu(self, menu, item):
        """Click item (a regular expression) in the menu bar's menu."""
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.get_by_role("menuitem", name=re.compile(item)).click()

    def run_all(self):
        """Run > Run All Cells."""
        self.menu("Run", r"^Run All Cells$")

    def restart_and_run_all(self):
        """Kernel > Restart Kernel and Run All Cells..., confirmed in its dialog."""
        self.menu("Kernel", r"^Restart Kernel and Run All Cells")
        self.page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()  # "Restart"

    def select_editor(self, index):
        """Click into cell index's editor and select all its text."""
        self.cells.nth(index).locator(".cm-content").click()
        self.page.keyboard.press("Control+A")

    def type_code(self, index, code):
        """Replace cell index's code by typing it key by key, as a student does.

        The editor indents a new line by itself; each line's own indentation replaces that.
        """
        self.select_editor(index)
        for number, line in enumerate(code.split("\n")):
            if number:
                self.page.keyboard.press("Enter")
                self.page.keyboard.press("Shift+Home")  # select the editor's automatic indentation ...
                self.page.keyboard.press("Delete")  # ... and remove it
            self.page.keyboard.type(line)

    def paste_code(self, index, code):
        """Replace cell index's code by inserting it at once, as pasting does."""
        self.select_editor(index)
        self.page.keyboard.insert_text(code)

    def run_cell_and_next(self, index):
        """Run cell index and the cell below it with Shift+Enter, twice; wait until both have run."""
        before = self.prompt(index + 1).text_content()
        self.cells.nth(index).locator(".cm-content").click()
        self.page.keyboard.press("Shift+Enter")
        self.page.keyboard.press("Shift+Enter")
        self.wait_ran(index + 1, before)
        self.wait_no_cell_running()

    def prompt(self, index):
        """The locator of cell index's execution prompt: [ ]: before it runs, [*]: while, [n]: after."""
        return self.cells.nth(index).locator(".jp-InputArea-prompt")

    def wait_ran(self, index, before=None):
        """Wait until cell index has run (again, when its prompt was before)."""
        if before is not None:
            expect(self.prompt(index), f"cell {index} did not start running").not_to_have_text(
                before, timeout=RUN_SECONDS * 1000)
        expect(self.prompt(index), f"cell {index} did not run").to_have_text(
            re.compile(r"^\[\d+\]:$"), timeout=RUN_SECONDS * 1000)

    def output(self, index):
        """The locator of cell index's outputs."""
        return self.cells.nth(index).locator(".jp-OutputArea-output")

    def errors(self, index):
        """The locator of cell index's error outputs (tracebacks)."""
        return self.cells.nth(index).locator(f".jp-OutputArea-output[data-mime-type='{ERROR_MIME}']")

    def save(self):
        """Ctrl+S, then wait until JupyterLab no longer marks the notebook as modified."""
        self.page.keyboard.press("Control+S")
        expect(self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty"),
               "the notebook was still marked as modified after Ctrl+S").to_have_count(0, timeout=PAGE_SECONDS * 1000)

    def show_in_middle(self, index):
        """Scroll cell index to the middle of the window."""
        self.cells.nth(index).evaluate("cell => cell.scrollIntoView({block: 'center'})")
