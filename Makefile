# Instructor and maintainer tasks, run from the repository root.
#   make test           the project's tests (what CI runs); make test-fast skips the slow, subprocess-heavy ones
#   make lint           ruff check and ruff format --check (settings in pyproject.toml)
#   make handout        dist/handout/ and dist/handout.tar, the student handout generated from the solution markers
#   make autolab        dist/autolab/: autograde.tar, autograde-Makefile, hw1p1.yml (server references only)
#   make gradescope     dist/gradescope_autograder.zip (server references only)
#   make release        the whole release pipeline (tools/release.py); exits non-zero on the first failure
#   make test-numpy126  the fast tests in a second virtual environment with numpy 1.26
#   make clean          remove dist/ and the numpy 1.26 environment

PYTHON ?= python3
NUMPY126_VENV ?= .venv-numpy126
PIP_FLAGS = --quiet --disable-pip-version-check
LINTED = mytorch hw1 autograder tools tests bench experiments examples setup.py

.PHONY: test test-fast lint handout autolab gradescope release test-numpy126 clean

test:
	$(PYTHON) -m pytest -q

test-fast:
	$(PYTHON) -m pytest -q -m "not slow"

lint:
	$(PYTHON) -m ruff check $(LINTED)
	$(PYTHON) -m ruff format --check $(LINTED)

handout:
	$(PYTHON) tools/make_handout.py

autolab:
	$(PYTHON) tools/make_autolab.py

gradescope:
	$(PYTHON) tools/make_gradescope.py

release:
	$(PYTHON) tools/release.py

# Recreated from scratch every time, so a clean clone and a re-run behave the same.
test-numpy126:
	rm -rf $(NUMPY126_VENV)
	$(PYTHON) -m venv $(NUMPY126_VENV)
	$(NUMPY126_VENV)/bin/python -m pip install $(PIP_FLAGS) -e ".[test,plot]" "numpy==1.26.*"
	$(NUMPY126_VENV)/bin/python -c "import numpy; v = numpy.__version__; assert v.startswith('1.26.'), v; print('numpy', v)"
	# This leg proves numpy 1.26 compatibility of the library, the homework and the grader. PyTorch parity, the
	# reference --check, the notebooks and the slow tooling tests ran in the main environment, so here they skip
	# (CI unset, -m "not slow") instead of installing torch a second time.
	env -u CI $(NUMPY126_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow"

clean:
	rm -rf dist $(NUMPY126_VENV)
