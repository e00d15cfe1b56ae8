"""Tower activation memory (multimodal/activations.py): by hand, against measured saved tensors, orderings."""

from __future__ import annotations

import pytest
from mm_catalog import config, spec

from vram_insight.multimodal import media_tokens, tower_activation_bytes


def test_clip_tower_activation_by_hand() -> None:
    clip = spec("llava-1.5-7b").tower("vision")
    assert clip is not None
    h, i, a, s, layers = 1024, 4096, 16, 577, 24
    # Inference, SDPA: max(attention phase 6h, MLP phase 2h + 2i) per position, bf16.
    assert tower_activation_bytes(clip, s, 1, 2, "sdpa", False) == max(6 * h, 2 * h + 2 * i) * s * 2
    # Eager adds a·S scores per position; at the softmax op the scaled bf16 scores, their fp32 upcast and the fp32
    # softmax coexist (2 + 4 + 4 bytes; measured on the Qwen2.5-VL ViT, validation/results/cpu.jsonl infer-mm eager).
    assert tower_activation_bytes(clip, s, 1, 2, "eager", False) == max(
        6 * h * s * 2 + a * s * s * 10, (2 * h + 2 * i) * s * 2
    )
    # Training, no checkpointing, SDPA: 8h + 3i per position per layer (quick_gelu keeps fc1 out, the sigmoid and
    # the product) + a 4-byte log-sum-exp per head.
    per_layer = (8 * h + 3 * i) * s * 2 + 4 * a * s
    assert tower_activation_bytes(clip, s, 1, 2, "sdpa", True, "none") == layers * per_layer
    # Full checkpointing: each layer's input (h) + one layer's activations during its recompute.
    assert tower_activation_bytes(clip, s, 1, 2, "sdpa", True, "full") == layers * h * s * 2 + per_layer


# Bytes autograd saves for backward per encoder layer, measured once with torch.autograd.graph.saved_tensors_hooks
# around transformers 5.24 towers built from the catalog configs (bf16, CPU, 1 image; the difference between 2-
# and 1-layer towers, parameters excluded). Independent of this code.
MEASURED_SAVED_PER_LAYER = [
    # id, tower, positions, attention, measured bytes, allowed relative error
    ("llava-1.5-7b", "vision", 577, "sdpa", 23_675_464, 0.001),
    ("llava-1.5-7b", "vision", 577, "eager", 55_599_720, 0.001),
    ("siglip-so400m-patch14-384", "vision", 729, "sdpa", 26_039_880, 0.001),
    ("siglip-so400m-patch14-384", "vision", 729, "eager", 77_011_560, 0.001),
    ("pixtral-12b", "vision", 1024, "sdpa", 58_793_984, 0.001),  # 512×512 image
    ("pixtral-12b", "vision", 1024, "eager", 159_391_744, 0.001),
    ("whisper-small", "audio", 1500, "sdpa", 39_252_000, 0.07),
    ("whisper-small", "audio", 1500, "eager", 90_876_000, 0.001),
    ("qwen2.5-vl-7b", "vision", 1024, "sdpa", 67_411_968, 0.15),  # 448×448, full-attention block
    ("qwen2.5-vl-7b", "vision", 1024, "eager", 165_388_288, 0.05),
]


@pytest.mark.parametrize(
    ("model_id", "tower", "positions", "attention", "measured", "tolerance"),
    MEASURED_SAVED_PER_LAYER,
    ids=[f"{m[0]}-{m[3]}" for m in MEASURED_SAVED_PER_LAYER],
)
def test_training_activations_match_measured_saved_tensors(
    model_id: str, tower: str, positions: int, attention: str, measured: int, tolerance: float
) -> None:
    t = spec(model_id).tower(tower)
    assert t is not None
    one_layer = t.model_copy(
        update={"layers": 1, "attention": "full", "window": None, "full_attention_layers": 0}
    )
    predicted = tower_activation_bytes(one_layer, positions, 1, 2, attention, True, "none")
    assert abs(predicted - measured) <= tolerance * measured


def test_activation_orderings() -> None:
    for model_id in ("qwen2.5-vl-7b", "llava-next-7b", "whisper-small", "nougat-base", "phi-4-multimodal"):
        s = spec(model_id)
        m = media_tokens(config(model_id), 2, 1024, 768, 0, 20)
        for t in s.towers:
            pos = m.encoder_positions.get(t.name, 0)
            span = m.attention_span.get(t.name)
            if not pos:
                continue

            def act(
                attn: str, training: bool, ckpt: str = "none", batch: int = 1, t=t, pos=pos, span=span
            ) -> int:
                return tower_activation_bytes(t, pos, batch, 2, attn, training, ckpt, span=span)

            assert act("eager", False) >= act("sdpa", False) > 0
            assert (
                act("eager", True)
                >= act("sdpa", True)
                >= act("sdpa", True, "selective")
                >= act("sdpa", True, "full")
            )
            assert act("sdpa", True) >= act("sdpa", False)
            assert act("sdpa", True, batch=3) == 3 * act("sdpa", True)
    assert tower_activation_bytes(spec("whisper-small").towers[0], 0, 4, 2, "sdpa", True) == 0


def test_windowed_attention_is_cheaper_than_full_in_eager() -> None:
    t = spec("qwen2.5-vl-7b").tower("vision")
    assert t is not None and t.attention == "windowed" and t.window == 64 and t.full_attention_layers == 4
    full = t.model_copy(update={"attention": "full", "window": None, "full_attention_layers": 0})
    positions = 5476
    assert tower_activation_bytes(t, positions, 1, 2, "eager", True) < tower_activation_bytes(
        full, positions, 1, 2, "eager", True
    )
    # Exactly: 28 windowed layers keep a·s·64 softmax elements instead of a·s·s, 6 bytes each (fp32 + bf16).
    a = t.heads
    saved = 28 * a * positions * (positions - 64) * 6
    assert (
        tower_activation_bytes(full, positions, 1, 2, "eager", True)
        - tower_activation_bytes(t, positions, 1, 2, "eager", True)
        == saved
    )


def test_attention_span_shrinks_the_eager_term() -> None:
    clip = spec("llava-next-7b").tower("vision")
    assert clip is not None
    whole = tower_activation_bytes(clip, 5 * 577, 1, 2, "eager", True)
    per_view = tower_activation_bytes(clip, 5 * 577, 1, 2, "eager", True, span=577)
    assert per_view < whole
    assert whole - per_view == 24 * clip.heads * 5 * 577 * (5 * 577 - 577) * 6
