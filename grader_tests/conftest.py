"""Shared fixtures: the repo's notebooks, the reference solution's functions, and graded temporary courses."""
import sys

import pytest

from coursekit.course.notebooks import build_submission, cells_by_id, read, reference_answers, test_ids
from support.course import NOTEBOOK, RELEASE, SOURCE, graded_course

sys.path.insert(0, str(SOURCE))  # backprop_checks, as the notebook imports it


@pytest.fixture(scope="session")
def source_nb():
    return read(SOURCE / NOTEBOOK)


@pytest.fixture(scope="session")
def release_nb():
    return read(RELEASE / NOTEBOOK)


@pytest.fixture(scope="session")
def max_points(source_nb):
    return test_ids(source_nb)


def reference_namespace(source_nb):
    """The reference relu, softmax, backward, sgd_update and the given forward/cross_entropy, executed."""
    namespace = {}
    exec("import numpy as np", namespace)
    for code in reference_answers(source_nb).values():
        exec(code, namespace)
    exec(cells_by_id(source_nb)["forward"].source, namespace)
    return namespace


@pytest.fixture(scope="session")
def reference(source_nb):
    return reference_namespace(source_nb)


@pytest.fixture(scope="session")
def example_course(tmp_path_factory, source_nb, release_nb):
    """A temporary course in which the reference solution and the untouched release were autograded."""
    submissions = {
        "reference": build_submission(release_nb, reference_answers(source_nb)),
        "untouched": release_nb,
    }
    return graded_course(tmp_path_factory.mktemp("examples") / "course", submissions)


# The modules that take longest, longest first (benchmarks/PROFILE.md, "Seventh change"): make test hands
# modules to its two xdist workers in collection order (--no-loadscope-reorder), so these start first and the
# run does not end with one of them alone on a half-idle machine; the cluster tests mostly wait (a loop that
# ignores interrupts, lost Dask processes), and a graded batch on the other worker fills the cores meanwhile.
LONGEST_FIRST = ["test_cluster.py", "test_hostile.py", "test_grade.py", "test_catalogue.py", "test_hidden_draws.py",
                 "test_messy.py", "test_autograde.py", "test_trust.py", "test_lms.py", "test_second_assignment.py"]


def pytest_collection_modifyitems(session, config, items):
    """Put the modules of LONGEST_FIRST first, in that order; the others keep their order after them."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_sessionfinish(session):
    """Under pytest-xdist (make test), a worker hands the summary lines and figures its tests left to the
    controller, which prints them (pytest_testnodedown below)."""
    from catalogue.report import SUMMARY_LINES
    from hostile import FIGURES
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["summary_lines"] = list(session.config.stash.get(SUMMARY_LINES, []))
        output["figures"] = {name: list(values) for name, values in session.config.stash.get(FIGURES, {}).items()}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller's side of pytest_sessionfinish: gather every worker's lines and figures."""
    from catalogue.report import SUMMARY_LINES
    from hostile import FIGURES
    output = getattr(node, "workeroutput", {})
    node.config.stash.setdefault(SUMMARY_LINES, []).extend(output.get("summary_lines", []))
    node.config.stash.setdefault(FIGURES, {}).update(output.get("figures", {}))


def pytest_terminal_summary(terminalreporter, config):
    """Print the lines the answer catalogue's tests left (its summary, its figures) at the end of the run, then the
    line of the messy and hostile catalogues together (from the figures test_messy.py and test_hostile.py left)."""
    from catalogue.report import SUMMARY_LINES
    from hostile import FIGURES
    for line in config.stash.get(SUMMARY_LINES, []):
        terminalreporter.write_line(line)
    figures = config.stash.get(FIGURES, {})
    if figures:
        messy = "{}/{} full marks".format(*figures["messy"]) if "messy" in figures else "not run"
        hostile = ("{} above honest · {} network connections · {} imports from submissions".format(*figures["hostile"])
                   if "hostile" in figures else "not run")
        terminalreporter.write_line(f"messy honest submissions: {messy} · hostile: {hostile}")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """A context of Debian's Chromium with a fresh profile (browser.py); the test is skipped without a browser."""
    from browser import chromium_context
    yield from chromium_context(tmp_path_factory)
