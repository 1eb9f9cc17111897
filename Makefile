# The two doors: `make demo` and `make test`. Each creates or refreshes .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, from the local CPU build: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[ml,dev]'
	# tinysoundfont's wheel requires pyaudio (live playback only), which does not build without portaudio headers
	$(BIN)/pip install -q --no-deps tinysoundfont==0.3.7
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m musenet.demo

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check musenet tests benchmarks
	$(BIN)/ruff format --check musenet tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/codec.py

clean:
	rm -rf $(VENV) build *.egg-info
