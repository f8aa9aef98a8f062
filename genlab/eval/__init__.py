"""Evaluation: every backend scored on the same text (perplexity), and comparisons that run the
same prompts through several backends, measure their style and plot it (compare, plots)."""
