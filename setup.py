"""The compiled fast path of the word tokenizer (genlab/markov/_fastwords.c).

Optional: where it cannot be built, genlab runs on the pure-Python tokenizer, which gives the
same tokens, about ten times slower on a big corpus."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("genlab.markov._fastwords", ["genlab/markov/_fastwords.c"], optional=True)])
