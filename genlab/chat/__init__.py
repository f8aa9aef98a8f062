"""Terminal chat over any Generator: personas, a session with a context budget, a transcript."""
