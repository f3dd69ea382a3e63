# Two commands: `make run` (set up + run the demo) and `make test` (set up + run the tests).
# Only python3 and make are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.PHONY: run test install clean benchmarks refs refs-irt mutation

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,distributed]'
	touch $(STAMP)

PORT ?= 8000

run: $(STAMP)  # the port is checked first: a busy one fails before the demo trains anything
	$(BIN)/equilearn demo-serve --host 127.0.0.1 --port $(PORT) --check-port
	$(BIN)/equilearn demo
	$(BIN)/equilearn demo-serve --host 127.0.0.1 --port $(PORT)

# The tests run on every core (pytest-xdist), each test file on one worker so its module fixtures are built
# once; TEST_WORKERS=0 runs them in this process (what a debugger wants).
TEST_WORKERS ?= auto

test: $(STAMP) refs-irt  # the pyirt and girth agreement tests call those reference envs
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Reference tools for the comparison benchmarks and agreement tests, each in its own venv under .refs/
# (never imported by the project's process). Versions pinned; `make refs` also builds pyBKT 1.4.3 from
# its source distribution as C++ and fails if the pure-Python fallback is what got installed.
REFS := .refs
REF_PIP = -m pip install --quiet --disable-pip-version-check --no-cache-dir
REF_NUMPY := numpy==1.26.4 scipy==1.13.1

refs: refs-irt $(REFS)/pybkt/.built

refs-irt: $(REFS)/pyirt/.built $(REFS)/girth/.built

$(REFS)/pyirt/.built: Makefile
	rm -rf $(REFS)/pyirt && $(PYTHON) -m venv $(REFS)/pyirt
	$(REFS)/pyirt/bin/python $(REF_PIP) $(REF_NUMPY) cython==3.0.11 pymongo==4.10.1 tqdm==4.67.1 python-decouple==3.8 pyirt==0.3.4
	$(REFS)/pyirt/bin/python -c "import importlib.metadata as m; assert m.version('pyirt') == '0.3.4', m.version('pyirt')"
	touch $@

$(REFS)/girth/.built: Makefile
	rm -rf $(REFS)/girth && $(PYTHON) -m venv $(REFS)/girth
	$(REFS)/girth/bin/python $(REF_PIP) $(REF_NUMPY) girth==0.8.0
	$(REFS)/girth/bin/python -c "import girth, importlib.metadata as m; assert m.version('girth') == '0.8.0', m.version('girth')"
	touch $@

$(REFS)/pybkt/.built: Makefile
	rm -rf $(REFS)/pybkt && $(PYTHON) -m venv $(REFS)/pybkt
	$(REFS)/pybkt/bin/python $(REF_PIP) $(REF_NUMPY) scikit-learn==1.5.2 pandas==2.2.3 requests==2.32.3 setuptools==70.3.0 wheel==0.44.0
	$(REFS)/pybkt/bin/python $(REF_PIP) --no-build-isolation --no-binary pyBKT pyBKT==1.4.3
	@# pyBKT's setup.py installs its pure-Python version without a word when the C++ build fails: refuse that
	$(REFS)/pybkt/bin/python -c "import importlib.util as u; s = u.find_spec('pyBKT.fit.E_step'); \
		assert s and s.origin.endswith('.so'), 'pyBKT installed WITHOUT its C++ extension (its setup.py fell back to pure \
	Python); it needs g++ and the Python headers; to see the compiler error: $(REFS)/pybkt/bin/pip install -v --no-build-isolation \
	--no-binary pyBKT --force-reinstall --no-deps pyBKT==1.4.3'; print('pyBKT C++ build:', s.origin)"
	touch $@

mutation: $(STAMP)  # mutation testing (docs/testing.md); slow, never part of `make test`
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,distributed,mutation]'
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 nice -n 10 $(BIN)/mutmut run --max-children 1 \
	  "engine.evaluation.metrics.*" "engine.fairness.stats.*" "engine.fairness.metrics.*" "engine.fairness.roc.*" \
	  "models.elo.*" "models.bkt.kernels.x_unique_sequences*" \
	  "models.irt.em.*" "models.irt.estep.*" "models.irt.layout.*" "models.irt.mstep.*" \
	  "models.irt.response.*" "models.irt.table.*" \
	  "models.irt.ability.*" "models.irt.estimator.*" "models.irt.matrix.*" "models.irt.standard_errors.*" \
	  "models.irt.bank.*" "models.irt.data.*" "models.irt.diagnostics.*" "models.irt.quadrature.*" \
	  "models.errors.*" "models.baselines.*" "models.logistic.classic.*" "models.bkt.em.*" "models.bkt.partition.*" \
	  "models.logistic.design.*" "models.logistic.estimator.*" "models.logistic.features.*" "models.logistic.newton.*" \
	  "models.irt.priors.*" "models.irt.calibration.*" "models.bkt.model.*" "models.bkt.data.*" "models.base.*" \
	  "models.ensemble.selection.*" "models.ensemble.stacked.*"; \
	status=$$?; $(BIN)/mutmut results; rm -rf mutants; exit $$status

benchmarks: $(STAMP)
	$(BIN)/python -m experiments.make_benchmarks

clean:
	rm -rf $(VENV) .equilearn .pytest_cache
