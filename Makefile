# Instructor tasks, run from the repository root.
#   make handout        dist/handout/ and dist/handout.tar, the student handout generated from the solution markers
#   make release        the whole release pipeline (tools/release.py): handout -> 0/95, solution handin -> 95/95,
#                       references --check; exits non-zero on the first failure
#   make test-numpy126  the project's tests in a second virtual environment with numpy 1.26
#   make clean          remove dist/ and the numpy 1.26 environment

PYTHON ?= python3
NUMPY126_VENV ?= .venv-numpy126
PIP_FLAGS = --quiet --disable-pip-version-check

.PHONY: handout release test-numpy126 clean

handout:
	$(PYTHON) tools/make_handout.py

release:
	$(PYTHON) tools/release.py

# Recreated from scratch every time, so a clean clone and a re-run behave the same.
test-numpy126:
	rm -rf $(NUMPY126_VENV)
	$(PYTHON) -m venv $(NUMPY126_VENV)
	$(NUMPY126_VENV)/bin/python -m pip install $(PIP_FLAGS) -e ".[test,plot]" "numpy==1.26.*"
	$(NUMPY126_VENV)/bin/python -c "import numpy; v = numpy.__version__; assert v.startswith('1.26.'), v; print('numpy', v)"
	# This leg proves numpy 1.26 compatibility. PyTorch parity, the reference --check and the notebooks ran in the
	# main environment, so here they skip with their reasons (CI unset) instead of installing torch a second time.
	env -u CI $(NUMPY126_VENV)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf dist $(NUMPY126_VENV)
