# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/imgsearch
STAMP := $(VENV)/.installed
DIR ?=
RECORDS ?=
PRUNE ?=

.PHONY: run test test-fast test-cluster setup setup-demo setup-ml setup-ocr setup-faces setup-video setup-dicom setup-gpu browser es-start es-stop es-status index ingest web bench bench-quick upload-model lint clean

run: setup-demo setup-ocr setup-video setup-dicom es-start ## set up, start the local node, ingest the sample images, serve the gallery
	$(CLI) demo
	$(CLI) web --demo

test: setup-ml setup-demo setup-ocr setup-faces setup-video setup-dicom setup-gpu browser es-start lint ## set up, check the layering and style, run the test suite against a real node
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup-ml setup-demo setup-ocr setup-faces setup-video setup-dicom setup-gpu browser lint ## only the tests that need no Elasticsearch node (no node is started)
	$(PY) -m pytest -m "not es and not browser and not cluster" -q $(PYTEST_ARGS)

test-cluster: setup ## only the multi-node tests (a 3-node cluster of their own on free ports; also in `make test`)
	$(PY) -m pytest -m cluster $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# The optional parts, each installed once by the targets that need it (a runtime install works without them).
setup-demo: $(VENV)/.installed-demo
setup-ml: $(VENV)/.installed-ml
setup-ocr: $(VENV)/.installed-ocr
setup-faces: $(VENV)/.installed-faces
setup-video: $(VENV)/.installed-video
setup-dicom: $(VENV)/.installed-dicom
setup-gpu: $(VENV)/.installed-gpu

# rapidocr without its dependencies (setup.cfg's `ocr` extra says why); its wheel holds the PP-OCRv4 models.
RAPIDOCR := rapidocr-onnxruntime==1.4.4
$(VENV)/.installed-ocr: $(STAMP)
	$(PY) -m pip install --quiet -e '.[ocr]'
	$(PY) -m pip install --quiet --no-deps '$(RAPIDOCR)'
	@touch $@

$(VENV)/.installed-%: $(STAMP)
	$(PY) -m pip install --quiet -e '.[$*]'
	@touch $@

browser: ## Debian's Chromium and fonts (DejaVu; WenQuanYi Zen Hei for Chinese) for the browser and OCR tests, when missing and we may
	@{ command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "wenquanyi" && fc-list 2>/dev/null | grep -qi "dejavu sans"; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei fonts-dejavu-core >/dev/null); \
	  else echo "note: the browser and OCR tests need chromium and fonts (apt-get install chromium fonts-wqy-zenhei fonts-dejavu-core)"; fi; }

es-start: setup ## start the local Elasticsearch node (no-op when running, or when ES_URL is set)
	$(CLI) node start

es-stop: setup
	$(CLI) node stop

es-status: setup
	$(CLI) node status

index: setup ## create the image index behind its alias
	$(CLI) index create

ingest: setup ## make ingest DIR=/path/to/photos, or RECORDS=catalogue.csv (add PRUNE=1 to remove what is gone)
	@test -n "$(DIR)$(RECORDS)" || { echo "usage: make ingest DIR=/path/to/images (or s3://bucket/prefix/), or make ingest RECORDS=catalogue.csv"; exit 2; }
	$(CLI) ingest $(if $(RECORDS),--records "$(RECORDS)","$(DIR)") $(if $(PRUNE),--prune)

web: setup ## serve the gallery and JSON API with gunicorn
	$(CLI) web

bench: setup es-start
	$(PY) bench/ingest.py
	$(PY) bench/search.py

bench-quick: setup es-start
	$(PY) bench/ingest.py --quick
	$(PY) bench/search.py --quick

upload-model: setup-ml ## import the multilingual text model into Elasticsearch ML with eland
	$(CLI) model upload

lint: setup ## the import contract (.importlinter: core below ingest and webapp, no cycles) and ruff
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check es_search ingest webapp demo tests bench

clean:
	rm -rf .data build *.egg-info .pytest_cache
