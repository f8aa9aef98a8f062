"""Train a small llama-architecture transformer on a corpus (PyTorch) and export it as GGUF.

vocab.py: BPE pieces in llama.cpp's SPM form. data.py: llama.cpp's
tokenization. model.py: the PyTorch model. trainer.py: the loop, budget, Ctrl-C, scoring.
checkpoint.py: safetensors checkpoints. export.py: GGUF writing.
PyTorch is optional (`pip install 'genlab[train]'`); nothing here imports it at import time
except model.py.
"""
