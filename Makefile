# cs285lab: two commands.  `make lab` opens the course; `make test` runs every test.
# Both create .venv on first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
ONLY   ?=
# Tests run with the small CI budget, one torch thread, and no stray GPU.
TEST_ENV := CS285LAB_PROFILE=ci OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CUDA_VISIBLE_DEVICES= MPLBACKEND=Agg PYDEVD_DISABLE_FILE_VALIDATION=1

.PHONY: lab lab-instructor test pytest bench student check-student clean-venv help
help:
	@echo "make lab    - set up .venv and open the student notebooks (notebooks/) in JupyterLab (ARGS=... passes options)"
	@echo "make lab-instructor - the same, with the whole repository (solutions/ and notebooks/) in the file browser"
	@echo "make test   - set up .venv and run the whole test suite (unit tests + nbval on solutions/); TESTS=... for a subset"
	@echo "make bench  - run the benchmarks (ONLY=<name> for one); results in benchmarks/results/"
	@echo "make student - regenerate notebooks/ from solutions/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	@touch $@

# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Students see notebooks/ only: the reference solutions are not one click away.
lab: $(VENV)/.installed
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(ARGS)

lab-instructor: $(VENV)/.installed
	$(BIN)/jupyter lab --notebook-dir=. --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG) $(ARGS)

student: $(VENV)/.installed
	$(BIN)/cs285lab make-student

check-student: $(VENV)/.installed
	$(BIN)/cs285lab make-student --check

# Two workers (one per core), one notebook per worker at a time (--dist loadfile keeps a notebook's
# cells in one kernel). TESTS picks a subset: make test TESTS=tests/test_grading.py
TESTS ?= tests solutions
TEST_ARGS := -n 2 --dist loadfile --timeout=1200 --nbval-lax --nbval-current-env \
	--nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=600 -p no:cacheprovider
test: check-student
	@$(MAKE) --no-print-directory pytest TESTS="$(TESTS)"

# The suite without the set-up and notebook check (what `make test` runs after them). Any non-zero exit
# fails make; "no tests ran" (pytest's exit status 5: a wrong path or -k) is said out loud first.
pytest:
	$(TEST_ENV) $(BIN)/python -m pytest $(TESTS) $(TEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests from '$(TESTS)' (exit status 5): that is a failure" >&2; fi; \
	exit $$status

bench: $(VENV)/.installed-bench
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CUDA_VISIBLE_DEVICES= MPLBACKEND=Agg \
	    $(BIN)/python -m benchmarks $(if $(ONLY),--only $(ONLY),)

clean-venv:
	rm -rf $(VENV)
