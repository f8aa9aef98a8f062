# Two entry points: `make demo` and `make test`. Both build the local venv they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
GENLAB := $(VENV)/bin/genlab

.PHONY: demo test bench clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "installing genlab with llama-cpp-python (the first time it compiles llama.cpp: about 5 minutes)"
	$(PY) -m pip install --quiet -e '.[llama]'
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PY) -m pip install --quiet -e '.[llama,hf,test,bench]'
	touch $@

demo: $(VENV)/.base
	$(GENLAB) train-markov corpora/novel.txt
	@echo
	$(GENLAB) generate --backend markov:novel --seed 1 --max-tokens 250
	@echo
	$(GENLAB) generate --backend markov:novel --prompt "“Well,” said" --temperature 0.9 --seed 2 --max-tokens 120
	@echo
	@echo "# the same prompt through llama.cpp, on a tiny model genlab builds (random weights: expect noise)"
	$(GENLAB) tiny-model build -o models/tiny.gguf --seed 1
	$(GENLAB) generate --backend llama:models/tiny.gguf --prompt "“Well,” said" --seed 2 --max-tokens 40

test: $(VENV)/.test
	$(PY) -m pytest -q

bench: $(VENV)/.test
	$(PY) bench/tokenizer_roundtrip.py
	$(PY) bench/markov_vs_markovify.py

clean:
	rm -rf $(VENV) models .pytest_cache
