# The two commands of the README: `make serve` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8765
# The benchmarks' data folder (CiteSeer: corpus.jsonl and edges.tsv; the README says where to get it).
BENCH_DATA ?= bench/data/citeseer
# The browser tests drive Debian's Chromium; nothing here ever downloads a browser of its own.
CHROMIUM := /usr/lib/chromium/chromium
FIREFOX := /usr/bin/firefox-esr
# Mozilla's linter for the Firefox build, pinned, installed from npm into .tools/ (git ignores it).
WEB_EXT := .tools/node_modules/.bin/web-ext
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test install install-test bytecode machine-code wheel bench sample-vectors quality digest-bench ingest-bench panel-bench page-bench pdf-bench fulltext-bench sources-bench realfiles extension clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The stamp files make the install happen again only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

$(FIREFOX):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr >/dev/null

install: $(VENV)/.installed
/usr/bin/npm:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null

$(WEB_EXT): | /usr/bin/npm
	npm install --prefix .tools --no-audit --no-fund --silent web-ext@10.7.0

# test_service.py checks the systemd user unit with systemd-analyze.
/usr/bin/systemd-analyze:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null

# test_fulltext.py reads a scan with Tesseract (papershelf uses it when it is installed, and says so when it is not).
/usr/bin/tesseract:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null

install-test: $(VENV)/.installed-test $(CHROMIUM) $(FIREFOX) $(WEB_EXT) /usr/bin/systemd-analyze /usr/bin/tesseract

serve: install bytecode machine-code
	$(BIN)/papershelf serve --port $(PORT)

# Workers each running whole files (a file's browsers, servers and fixtures stay in one process): one more
# than the cores, as the browser tests wait for pages more than they compute. On 2 cores, back to back: 3 workers
# 261 s, 2 workers 288 s (with 2, a quarter of the CPU time was idle).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# The package's bytecode, written once: with PYTHONDONTWRITEBYTECODE set (as on these machines) every process
# the tests start (servers, each CLI call) would otherwise compile all of papershelf again, 0.3 s of CPU each.
# compileall writes it whatever that variable says, and skips what is up to date.
bytecode: | $(BIN)/python
	$(BIN)/python -m compileall -q -j 0 server/papershelf

# numba's machine code, compiled once (server/papershelf/search/precompile.py) and kept beside the code: PaCMAP's
# alone is 22 s of CPU, which a fresh install's first map would pay, and every test process that needs it before
# the first has kept it. Two seconds when it is kept already.
machine-code: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python -m papershelf.search.precompile

test: install-test bytecode machine-code
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 $(PYTEST_ARGS)

# The model's vectors of the shipped sample (server/papershelf/data/samples/sample-vectors.npz), so that importing
# it embeds nothing: run after changing the sample, the text a vector is made of, or the model.
sample-vectors: install
	HF_HUB_OFFLINE=1 $(BIN)/python tools/make_sample_vectors.py

quality: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quality.py --data $(BENCH_DATA)

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[bench]'
	touch $@ $(VENV)/.installed

# Performance (lookups, writes, start-up, the API under load, the extension's panel in both browsers): writes
# docs/benchmarks.md and its plot. Needs no data folder; builds 10k- and 100k-paper libraries once into
# bench/.cache/ (about 15 minutes).
bench: $(VENV)/.installed-bench install-test
	HF_HUB_OFFLINE=1 $(BIN)/python bench/report.py

# The panel alone, on one core (a slow laptop) and on two, each against the extension before issue #24 (about
# 20 minutes): its tables in docs/benchmarks.md. `taskset -c 0 make panel-bench` makes the one-core run only.
panel-bench: install-test
	HF_HUB_OFFLINE=1 $(BIN)/python bench/panel.py --write-doc

# The library page and its map at 100,000 papers (a few minutes; the library is built once): its table.
page-bench: install-test
	HF_HUB_OFFLINE=1 $(BIN)/python bench/page.py --write-doc

# Fidelity on real saved pages and API responses (a folder kept outside the repository): the adapters and importers
# against what each file holds; exits non-zero on any regression.
REAL_DATA ?= ../shared/pages
realfiles: install-test
	HF_HUB_OFFLINE=1 $(BIN)/python bench/realfiles.py --data $(REAL_DATA)

# Reading PDFs: accuracy (the folder's own scorer), speed against pdftotext, a 1,000-PDF folder, the server meanwhile.
PDF_DATA ?= ../shared/pdfs
pdf-bench: $(VENV)/.installed-bench
	command -v pdftotext >/dev/null || apt-get install -y -q poppler-utils
	HF_HUB_OFFLINE=1 $(BIN)/python bench/pdf.py --data $(PDF_DATA)

# Full text: reading every page against pdftotext, embedding passages, finding them (phrases, questions in other
# words, topics) against a page-level BM25, 100k and 1M synthetic passages, and a backup with 60,000 passages.
fulltext-bench: $(VENV)/.installed-bench
	command -v pdftotext >/dev/null || apt-get install -y -q poppler-utils
	HF_HUB_OFFLINE=1 $(BIN)/python bench/fulltext.py --data $(PDF_DATA)

# Following Zotero: a 10,000-item library's first sync, a sync after one change, lookups meanwhile (a few minutes).
sources-bench: $(VENV)/.installed-bench
	HF_HUB_OFFLINE=1 $(BIN)/python bench/sources.py

digest-bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/digest.py --data $(BENCH_DATA)

ingest-bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/ingest.py

# Both zips into dist/ (a user with papershelf installed runs `papershelf extension` instead).
extension:
	$(PYTHON) extension/package.py dist

# The wheel (and sdist) into dist/, with the extension in it: `pipx install dist/papershelf-*.whl`.
wheel: $(VENV)/.installed-test
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info server/*.egg-info
