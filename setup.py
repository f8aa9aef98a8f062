"""Two optional compiled fast paths: the word tokenizer's (genlab/markov/_fastwords.c) and the
chain's sentence walk (genlab/markov/_fastwalk.c).

Where they cannot be built, genlab runs on the Python code they follow, which gives the same
tokens and the same sentences, more slowly (training a big corpus about four times)."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension(f"genlab.markov.{name}", [f"genlab/markov/{name}.c"], optional=True)
    for name in ("_fastwords", "_fastwalk")
])
