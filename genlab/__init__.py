"""genlab: n-gram Markov chains and llama.cpp models behind one Generator interface."""

__version__ = "0.1.0"
