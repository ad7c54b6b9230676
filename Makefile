# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
RUNTIME := $(VENV)/.installed-runtime
INSTANCE ?= instance
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run preview test bench bench-desk lint typecheck translations clean demo

# Two installs: the runtime alone for `make run`, the test tools too for `make test`.
$(RUNTIME): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("reporter needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

$(STAMP): $(RUNTIME)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

## run: set everything up and serve a demo station on http://127.0.0.1:8080
run: $(RUNTIME)
	VENV=$(VENV) INSTANCE=$(INSTANCE) HOST=$(HOST) PORT=$(PORT) deploy/demo-station.sh

## preview: the demo station with in-progress translations too (for translators)
preview: $(RUNTIME)
	REPORTER_PREVIEW_LANGUAGES=1 VENV=$(VENV) INSTANCE=$(INSTANCE) HOST=$(HOST) PORT=$(PORT) deploy/demo-station.sh

# axe-core (accessibility checks in the browser tests), from the npm registry.
AXE := node_modules/axe-core/axe.min.js
AXE_VERSION := 4.14.1
$(AXE):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-audit --no-fund --no-save --silent axe-core@$(AXE_VERSION); \
	else echo "npm not found: the accessibility tests will be skipped"; fi

## test: set up and run every test, the linter and the type checker
test: $(STAMP) $(AXE)
	$(VENV)/bin/ruff check reporter tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

## bench: run the benchmarks and print tables (record them in docs/benchmarks.md)
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.bundles
	$(PY) -m bench.upload

## bench-desk: the review desk on 100,000 reports (docs/benchmarks.md); builds them
## through real bundles once (2-3 minutes, 850 MB in ~/.cache/reporter-bench)
bench-desk: $(STAMP)
	$(PY) -m bench.desk $(BENCH_DESK_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check reporter tests bench
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## translations: refresh the template and catalogues, compile them
# babel.cfg's patterns are relative to the project root, so extract from `.`
# (extracting from `reporter` matches nothing). The .pot has no header; each
# .po keeps its own (Language, Plural-Forms, charset), so no --omit-header on
# update. Every catalogue is refreshed, shipped (translations/LINGUAS) or in
# progress. tests/i18n/test_i18n.py checks the result.
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o reporter/i18n/translations/messages.pot --no-location --omit-header --sort-output .
	for lang in $$($(PY) -c 'from reporter.i18n.languages import catalogue_languages; print(*catalogue_languages())'); do \
	  $(VENV)/bin/pybabel update -i reporter/i18n/translations/messages.pot -d reporter/i18n/translations -l $$lang --ignore-obsolete --ignore-pot-creation-date || exit 1; \
	done
	$(VENV)/bin/pybabel compile -d reporter/i18n/translations --statistics
	# The review desk's own domain (reporter/i18n/reviewer.py): every language with a
	# reviewer.po (English, French and Portuguese so far).
	$(VENV)/bin/pybabel extract -F babel-reviewer.cfg -k _l -k lazy_gettext -o reporter/i18n/translations/reviewer.pot --no-location --omit-header --sort-output .
	for po in reporter/i18n/translations/*/LC_MESSAGES/reviewer.po; do \
	  lang=$$(basename $$(dirname $$(dirname $$po))); \
	  $(VENV)/bin/pybabel update -D reviewer -i reporter/i18n/translations/reviewer.pot -d reporter/i18n/translations -l $$lang --ignore-obsolete --ignore-pot-creation-date || exit 1; \
	done
	$(VENV)/bin/pybabel compile -D reviewer -d reporter/i18n/translations --statistics

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts
