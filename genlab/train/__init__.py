"""Train a small llama-architecture transformer on a corpus (PyTorch) and export it as GGUF.

vocab.py: a BPE vocabulary in llama.cpp's SPM form. data.py: the text tokenized by llama.cpp.
model.py: the PyTorch model. trainer.py: the run (budget, schedule, checkpoints, scoring).
console.py: its progress bar and Ctrl-C. checkpoint.py: safetensors checkpoints. export.py:
the GGUF. PyTorch is optional (`pip install 'genlab[train]'`): only model.py and
checkpoint.py import it when imported.
"""
