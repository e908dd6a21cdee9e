# Two commands set everything up on a fresh machine:
#   make demo   install, regenerate release/, autograde the bundled example submissions, print the grades
#   make test   install, run every test in grader_tests/ (what CI runs)
#   make test-fast  the tests not marked slow (grader_tests/unit/ and other quick checks), in under a minute
# and two to work in JupyterLab (JUPYTER_ARGS="--port 9000 --no-browser" passes options to jupyter lab):
#   make lab         the student version (a copy of release/ in student-work/), with nbgrader's Validate
#   make formgrader  nbgrader's formgrader, the instructor's view of this course
PYTHON ?= python3
ASSIGNMENT ?= backprop
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)

.PHONY: demo test test-fast release lab formgrader setup clean

demo: setup
	$(BIN)/python -m coursekit demo $(ASSIGNMENT)

# Two test modules at a time (pytest-xdist; a module's shared set-up, such as a graded batch, runs once; the
# longest first, grader_tests/conftest.py), then the browser tests alone; the run fails if either part fails.
# pytest's exit status 2 (interrupted: Ctrl-C) ends the run there.
test: setup
	status=0; \
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not browser" --durations=15 \
		|| status=$$?; \
	if [ $$status -eq 2 ]; then exit 2; fi; \
	$(BIN)/python -m pytest -m browser --durations=5 || status=$$?; \
	exit $$status

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

release: setup
	$(BIN)/python -m coursekit release $(RELEASE_ASSIGNMENT)

lab: setup
	$(BIN)/python -m coursekit lab $(ASSIGNMENT) -- $(JUPYTER_ARGS)

formgrader: setup
	$(BIN)/python -m coursekit formgrader -- $(JUPYTER_ARGS)

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

clean:
	rm -rf $(VENV) submitted/ feedback/ gradebook.db
	find autograded -mindepth 1 ! -name README.md -exec rm -rf {} +

# Every command works on one assignment, a folder of source/: ASSIGNMENT (default backprop) picks it, e.g.
# make grade ASSIGNMENT=week2; make release regenerates every assignment (RELEASE_ASSIGNMENT=week2: just one).
# Grading a class (python -m coursekit grade --help, python -m coursekit report --help):
#   make grade                 autograde submitted/*/$(ASSIGNMENT) in parallel, print the class summary
#   make grade WORKERS=4 GRADE_ARGS="--student alice --timeout 600"
#   make grade SCHEDULER=tcp://HOST:8786   on a Dask cluster (README: Grading on a cluster)
#   make report                grades.csv, reports/backprop/ (tables, summary, charts) and feedback/
#   make benchmark             stock serial nbgrader autograde against make grade, then the local pool against a
#                              Dask LocalCluster, on generated submissions (CLUSTER_BENCHMARK_ARGS="--submissions 12")
.PHONY: grade report benchmark
COURSE ?= .

grade: setup
	$(BIN)/python -m coursekit --course $(COURSE) grade $(ASSIGNMENT) $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(GRADE_ARGS)

report: setup
	$(BIN)/python -m coursekit --course $(COURSE) report $(ASSIGNMENT) $(if $(WORKERS),--workers $(WORKERS)) $(REPORT_ARGS)

benchmark: setup
	$(BIN)/python benchmarks/grade_speed.py $(BENCHMARK_ARGS)
	$(BIN)/python benchmarks/cluster_speed.py $(CLUSTER_BENCHMARK_ARGS)

# Students and LMS courses (README: Students; Canvas and Moodle):
#   make handout               handout/$(ASSIGNMENT).zip: the release, its checks, a student README, requirements.txt
#   make collect LMS=canvas ZIP=submissions.zip ROSTER=gradebook.csv
#                              an LMS's "download all submissions" zip -> submitted/<student>/$(ASSIGNMENT)/
#   make report REPORT_ARGS="--lms canvas --roster gradebook.csv"   also reports/$(ASSIGNMENT)/canvas_grades.csv
.PHONY: handout collect

handout: setup
	$(BIN)/python -m coursekit --course $(COURSE) handout $(ASSIGNMENT)

collect: setup
	@test -n "$(LMS)" -a -n "$(ZIP)" -a -n "$(ROSTER)" \
		|| { echo "usage: make collect LMS=canvas|moodle ZIP=submissions.zip ROSTER=gradebook.csv" >&2; exit 2; }
	$(BIN)/python -m coursekit --course $(COURSE) collect $(ASSIGNMENT) $(abspath $(ZIP)) --lms $(LMS) --roster $(abspath $(ROSTER))
