"""A llama-architecture transformer in PyTorch that computes what llama.cpp computes.

One readable file, like nanoGPT's, but with llama's parts, laid out the way llama.cpp's
`llama` architecture reads them from a GGUF:

- RMSNorm before attention and before the MLP, and once more before the output
  (x / sqrt(mean(x²) + eps) * weight);
- rotary position embeddings on *adjacent* pairs (x[2i], x[2i+1]) with θ_i = base^(-2i/d)
  (llama.cpp's "normal" rope mode; Hugging Face's rotate-half layout would need Q/K permuted);
- causal self-attention with softmax(q·k / sqrt(d_head));
- a SwiGLU MLP: down(silu(gate(x)) * up(x)), no biases anywhere;
- output weights tied to the token embedding, or a separate matrix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int
    dim: int = 256
    layers: int = 4
    heads: int = 4
    ffn: int = 688
    context: int = 256
    rms_eps: float = 1e-5
    rope_base: float = 10000.0
    tied: bool = True
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.dim % self.heads or (self.dim // self.heads) % 2:
            raise ValueError(f"dim {self.dim} must split into {self.heads} heads of even size")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


SIZES: dict[str, dict[str, float]] = {
    # a few seconds to a minute of training: tests, smoke runs
    "tiny": {"dim": 64, "layers": 2, "heads": 4, "ffn": 176, "context": 256, "dropout": 0.1},
    # the demo and the quality comparison: about 10 minutes on 2 cores. A novel is ~200k
    # tokens, which 3.7M parameters overfit within minutes: dropout 0.3 keeps the held-out
    # loss falling for the whole 10 minutes (0.1 turned it upward after 3)
    "small": {"dim": 256, "layers": 4, "heads": 4, "ffn": 688, "context": 256, "dropout": 0.3},
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg: LlamaConfig, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of shape (length, head_dim / 2), computed in float64 then rounded."""
    half = cfg.head_dim // 2
    theta = cfg.rope_base ** (-torch.arange(half, dtype=torch.float64) * 2 / cfg.head_dim)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * theta[None, :]
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent pairs of the last dimension; x is (batch, heads, time, head_dim)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.q = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.k = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.v = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.out = nn.Linear(cfg.dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        h, d = self.cfg.heads, self.cfg.head_dim
        q = apply_rope(self.q(x).view(b, t, h, d).transpose(1, 2), cos, sin)
        k = apply_rope(self.k(x).view(b, t, h, d).transpose(1, 2), cos, sin)
        v = self.v(x).view(b, t, h, d).transpose(1, 2)
        drop = self.cfg.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(b, t, h * d))


class FeedForward(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.gate = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.up = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.down = nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.rms_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.rms_eps)
        self.ffn = FeedForward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), cos, sin))
        return x + self.drop(self.ffn(self.ffn_norm(x)))


class Llama(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim, cfg.rms_eps)
        self.output = None if cfg.tied else nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg, cfg.context)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's recipe: N(0, 0.02), the projections into the residual stream scaled down by
        sqrt(2 · layers) so the stream's variance does not grow with depth."""
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * self.cfg.layers) if name.endswith(("out.weight", "down.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (batch, time, vocab) for tokens (batch, time), time <= context."""
        t = tokens.shape[1]
        if t > self.cfg.context:
            raise ValueError(f"{t} tokens do not fit the context of {self.cfg.context}")
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, cos, sin)
        x = self.norm(x)
        weight = self.embed.weight if self.output is None else self.output.weight
        return x @ weight.T

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def decay_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(matrices, vectors): AdamW decays the weights of the first group only. The order is the
    optimizer's, so a checkpoint's optimizer state is checked against it."""
    params = list(model.parameters())
    return [p for p in params if p.dim() >= 2], [p for p in params if p.dim() < 2]
