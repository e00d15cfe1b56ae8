"""The workloads: each lists the phases where its memory can peak and hands them to :func:`phases.finish`.

* :mod:`.inference` — serving/generation on one of the runtimes;
* :mod:`.training` — full training and fine-tuning (full, LoRA, QLoRA, freeze, prefix);
* :mod:`.rl` — TRL's GRPO and DPO;
* :mod:`.multimodal` — media tokens and vision/audio towers on top of the text workloads.

A workload may import the formula layers, :mod:`vram_insight.phases`, :mod:`vram_insight.device`,
:mod:`vram_insight.resolve`, the runtimes and other workloads; it must not import planning or the interfaces.
"""
