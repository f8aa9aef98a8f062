"""llama.cpp backend: GGUF models through llama-cpp-python."""
