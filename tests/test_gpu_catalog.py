"""data/gpus.json: schema, formatting, coverage, internal consistency and a table of published facts.

Validates through ``GpuFile`` directly (not ``load_catalog``) so this test does not depend on data/models/.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vram_insight.catalog import GpuEntry, GpuFile

GPUS_JSON = Path(__file__).resolve().parents[1] / "data" / "gpus.json"


@pytest.fixture(scope="module")
def raw_text() -> str:
    return GPUS_JSON.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def gpus(raw_text: str) -> dict[str, GpuEntry]:
    parsed = GpuFile.model_validate(json.loads(raw_text))
    by_id: dict[str, GpuEntry] = {}
    for gpu in parsed.gpus:
        assert gpu.id not in by_id, f"duplicate GPU id {gpu.id!r}"
        by_id[gpu.id] = gpu
    return by_id


def test_file_is_two_space_indented_json_with_trailing_newline(raw_text: str) -> None:
    data = json.loads(raw_text)
    assert set(data) == {"gpus"}
    assert raw_text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_ids_unique_and_lowercase(raw_text: str) -> None:
    ids = [g["id"] for g in json.loads(raw_text)["gpus"]]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() for i in ids)


REQUIRED_IDS = set(
    [
        "rtx-3060-12gb",
        "rtx-3080-10gb",
        "rtx-3080-ti",
        "rtx-3090",
        "rtx-3090-ti",
        "rtx-4060-ti-16gb",
        "rtx-4070-ti-super",
        "rtx-4080",
        "rtx-4080-super",
        "rtx-4090",
        "rtx-5060-ti-16gb",
        "rtx-5070",
        "rtx-5070-ti",
        "rtx-5080",
        "rtx-5090",
        "rtx-a5000",
        "rtx-a6000",
        "rtx-4000-ada",
        "rtx-6000-ada",
        "rtx-pro-6000-blackwell",
        "t4",
        "v100-sxm2-32gb",
        "a10",
        "a10g",
        "l4",
        "l40s",
        "a100-40gb-sxm",
        "a100-80gb-pcie",
        "a100-80gb-sxm",
        "h100-pcie",
        "h100-sxm",
        "h100-nvl",
        "h200-sxm",
        "h200-nvl",
        "b200",
        "gb200",
        "b300",
        "mi250x",
        "mi300x",
        "mi325x",
        "mi355x",
        "rx-7900-xtx",
        "radeon-pro-w7900",
        "m2-ultra-192gb",
        "m3-max-128gb",
        "m4-max-128gb",
        "m3-ultra-512gb",
        "m4-pro-64gb",
        "gaudi-2",
        "gaudi-3",
        "tpu-v5e",
        "tpu-v6e",
    ]
)


def test_required_accelerators_present(gpus: dict[str, GpuEntry]) -> None:
    assert len(gpus) >= 44
    missing = REQUIRED_IDS - set(gpus)
    assert not missing, f"missing catalog entries: {sorted(missing)}"


# (id, field, published value, source). Independent of the catalog's own `source` strings.
PUBLISHED_FACTS = [
    # NVIDIA Ada whitepaper, Appendix A (GeForce RTX 4090): 24 GB GDDR6X, 1008 GB/s,
    # Peak BF16 Tensor TFLOPS with FP32 Accumulate 165.2 (dense) / 330.4 (sparse).
    ("rtx-4090", "memory_gb", 24),
    ("rtx-4090", "bandwidth_gbps", 1008),
    ("rtx-4090", "bf16_tflops", 165.2),
    ("rtx-4090", "fp16_acc_tflops", 330.3),
    # NVIDIA RTX Blackwell whitepaper, Table 3 (GeForce RTX 5090): 32 GB GDDR7, 1792 GB/s, BF16 209.5 dense.
    ("rtx-5090", "memory_gb", 32),
    ("rtx-5090", "bandwidth_gbps", 1792),
    ("rtx-5090", "bf16_tflops", 209.5),
    # NVIDIA Ampere GA102 whitepaper (GeForce RTX 3090): 936 GB/s, 71 TFLOPS FP16 tensor with FP32 accumulate.
    ("rtx-3090", "bandwidth_gbps", 936),
    ("rtx-3090", "bf16_tflops", 71.2),
    # NVIDIA H100 datasheet / NVIDIA exemplar-performance README "Peak Theoretical Throughput" (non-sparse):
    # H100 SXM 80 GB HBM3, 3.35 TB/s, BF16 989, FP8 1979.
    ("h100-sxm", "memory_gb", 80),
    ("h100-sxm", "bandwidth_gbps", 3350),
    ("h100-sxm", "bf16_tflops", 989),
    ("h100-sxm", "fp8_tflops", 1979),
    # NVIDIA A100 datasheet: 80 GB SXM4 2,039 GB/s; 312 TFLOPS BF16 dense (624 sparse).
    ("a100-80gb-sxm", "bandwidth_gbps", 2039),
    ("a100-80gb-sxm", "bf16_tflops", 312),
    # NVIDIA H200: 141 GB HBM3e at 4.8 TB/s.
    ("h200-sxm", "memory_gb", 141),
    ("h200-sxm", "bandwidth_gbps", 4800),
    # NVIDIA HGX B200: 192 GB HBM3e marketed, ~180 GB per GPU exposed (DGX B200 1,440 GB / 8);
    # BF16 2.25 PF dense.
    ("b200", "memory_gb", 192),
    ("b200", "usable_memory_gb", 180),
    ("b200", "bf16_tflops", 2250),
    # AMD Instinct MI300X: 192 GB HBM3, 5.3 TB/s, 1307.4 TFLOPS FP16/BF16 dense, 750 W.
    ("mi300x", "memory_gb", 192),
    ("mi300x", "bandwidth_gbps", 5300),
    ("mi300x", "bf16_tflops", 1307.4),
    # AMD Instinct MI325X: 256 GB HBM3E, 6 TB/s.
    ("mi325x", "memory_gb", 256),
    ("mi325x", "bandwidth_gbps", 6000),
    # Apple (WWDC 2023 / M3 Ultra / M4 announcements): M2 Ultra 800 GB/s, M3 Ultra 819 GB/s, M4 Max 546 GB/s.
    ("m2-ultra-192gb", "bandwidth_gbps", 800),
    ("m3-ultra-512gb", "bandwidth_gbps", 819),
    ("m4-max-128gb", "bandwidth_gbps", 546),
    # Google Cloud TPU docs: v5e 197 TFLOPs bf16, 16 GB HBM2; v6e 918 TFLOPs bf16, 32 GB.
    ("tpu-v5e", "bf16_tflops", 197),
    ("tpu-v5e", "memory_gb", 16),
    ("tpu-v6e", "bf16_tflops", 918),
    ("tpu-v6e", "memory_gb", 32),
    # Intel Gaudi 3 (Hot Chips 2024): 128 GB HBM2e, BF16 matrix 1835 TFLOPS.
    ("gaudi-3", "memory_gb", 128),
    ("gaudi-3", "bf16_tflops", 1835),
]


@pytest.mark.parametrize(("gpu_id", "field", "expected"), PUBLISHED_FACTS)
def test_published_fact(gpus: dict[str, GpuEntry], gpu_id: str, field: str, expected: float) -> None:
    assert getattr(gpus[gpu_id], field) == pytest.approx(expected, abs=0.05)


def test_memory_bytes_uses_usable_memory(gpus: dict[str, GpuEntry]) -> None:
    assert gpus["b200"].memory_bytes == 180 * 10**9
    assert gpus["rtx-4090"].memory_bytes == 24 * 10**9


def test_usable_memory_never_exceeds_marketed(gpus: dict[str, GpuEntry]) -> None:
    for gpu in gpus.values():
        if gpu.usable_memory_gb is not None:
            assert gpu.usable_memory_gb <= gpu.memory_gb, gpu.id


def test_apple_usable_memory_is_metal_working_set(gpus: dict[str, GpuEntry]) -> None:
    apple = [g for g in gpus.values() if g.vendor == "apple"]
    assert len(apple) >= 5
    for gpu in apple:
        # recommendedMaxWorkingSetSize is ~75% of RAM on Macs with more than 36 GB.
        assert gpu.usable_memory_gb == pytest.approx(0.75 * gpu.memory_gb), gpu.id
        assert gpu.max_per_node == 1
        assert gpu.interconnect == "unified"
        assert gpu.segment == "unified"


def test_geforce_fp32_accumulate_is_half_rate(gpus: dict[str, GpuEntry]) -> None:
    geforce = [g for g in gpus.values() if g.vendor == "nvidia" and g.segment == "consumer"]
    assert len(geforce) == 15
    for gpu in geforce:
        assert gpu.fp16_acc_tflops is not None, gpu.id
        assert gpu.fp16_acc_tflops == pytest.approx(2 * gpu.bf16_tflops, abs=0.15), gpu.id


def test_fp16_accumulate_never_below_bf16(gpus: dict[str, GpuEntry]) -> None:
    for gpu in gpus.values():
        if gpu.fp16_acc_tflops is not None:
            assert gpu.fp16_acc_tflops >= gpu.bf16_tflops, gpu.id


def test_fp8_only_on_hardware_that_has_it(gpus: dict[str, GpuEntry]) -> None:
    no_fp8 = set(
        [
            "rtx-3060-12gb",
            "rtx-3080-10gb",
            "rtx-3080-ti",
            "rtx-3090",
            "rtx-3090-ti",
            "rtx-a5000",
            "rtx-a6000",
            "t4",
            "v100-sxm2-32gb",
            "a10",
            "a10g",
            "a100-40gb-sxm",
            "a100-80gb-pcie",
            "a100-80gb-sxm",
            "mi250x",
        ]
    )
    for gpu_id in no_fp8:
        assert gpus[gpu_id].fp8_tflops is None, gpu_id
    for gpu in gpus.values():
        if gpu.fp8_tflops is not None:
            assert gpu.fp8_tflops >= gpu.bf16_tflops, gpu.id


def test_prices_carry_their_source_and_date(gpus: dict[str, GpuEntry]) -> None:
    for gpu in gpus.values():
        assert (gpu.cloud_usd_per_hour is None) == (gpu.cloud_price_as_of is None), gpu.id
        if gpu.cloud_usd_per_hour is not None or gpu.launch_price_usd is not None:
            assert gpu.price_source, gpu.id


def test_datacenter_parts_without_public_list_price_stay_null(gpus: dict[str, GpuEntry]) -> None:
    for gpu_id in ("h100-sxm", "h200-sxm", "b200", "gb200", "b300", "mi300x", "mi325x", "mi355x"):
        assert gpus[gpu_id].launch_price_usd is None, gpu_id


def test_node_sizes(gpus: dict[str, GpuEntry]) -> None:
    for gpu_id in ("h100-sxm", "h200-sxm", "b200", "a100-80gb-sxm", "mi300x", "mi355x", "gaudi-3"):
        assert gpus[gpu_id].max_per_node == 8, gpu_id
    assert gpus["gb200"].max_per_node == 4


def test_every_entry_names_a_source(gpus: dict[str, GpuEntry]) -> None:
    for gpu in gpus.values():
        assert len(gpu.source) > 20, gpu.id
        assert math.isfinite(gpu.bandwidth_gbps) and gpu.bandwidth_gbps > 0
