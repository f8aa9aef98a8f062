"""Evaluation: perplexity on the same text for every backend (compare and plots come later)."""
