# Two commands on a fresh machine:  make lab   |   make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# JupyterLab refuses to run as root unless told; add the flag only for root (containers, CI).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test figures bench slides students clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab on notebooks/
	$(PY) -m jupyterlab $(LAB_FLAGS) notebooks/

test: $(STAMP)  ## the whole suite: unit tests, every notebook (nbval), browser tests
	$(PY) -m pytest

figures: $(STAMP)  ## regenerate every figure in figures/
	$(PY) -m course_utils.figures

slides: $(STAMP)  ## HTML slides of every notebook into build/slides/
	$(PY) -m course_utils.modes build-slides

students: $(STAMP)  ## student versions (solutions removed) into build/student/
	$(PY) -m course_utils.modes students

bench: $(STAMP)  ## print the benchmarks' figures
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
