"""data/gpus.json: schema, formatting, coverage, internal consistency and a table of published facts.

Validates through ``GpuFile`` directly (not ``load_catalog``) so this test does not depend on data/models/.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from vram_insight.catalog import (
    CatalogError,
    GpuEntry,
    GpuFile,
    RuntimeOverheads,
    cuda_context_bytes,
    load_catalog,
    load_runtime_overheads,
    nccl_buffer_bytes,
)

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
    # NVIDIA HGX B200: 192 GB HBM3e marketed; BF16 2.25 PF dense.
    ("b200", "memory_gb", 192),
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


MiB = 1 << 20
GiB = 1 << 30

# nvidia-smi memory.total (MiB) as listed by modal-labs/modal-client PR #2797 ("Here's the reported totals from
# `nvidia-smi` across all our GPU types"), independent of the catalog's own quotes.
MODAL_NVIDIA_SMI_MIB = {
    "h100-sxm": 81559,
    "a100-80gb-sxm": 81920,
    "a100-40gb-sxm": 40960,
    "a10": 23028,
    "l40s": 46068,
    "l4": 23034,
    "t4": 15360,
}


@pytest.mark.parametrize(("gpu_id", "mib"), sorted(MODAL_NVIDIA_SMI_MIB.items()))
def test_device_total_is_nvidia_smi_mib(gpus: dict[str, GpuEntry], gpu_id: str, mib: int) -> None:
    assert gpus[gpu_id].device_total_mib == mib


def test_issue_examples_rtx_4090_and_h100(gpus: dict[str, GpuEntry]) -> None:
    # Issue 9: "an RTX 4090 is 23.99 GiB = 25.76 GB": nvidia-smi's 24564 MiB (what torch reported on drivers
    # before the reservation was subtracted, deviceQuery "24564 MBytes (25756696576 bytes)" on CUDA 12.1).
    total = gpus["rtx-4090"].device_total_mib * MiB
    assert total == 24564 * 1_048_576 == 25_757_220_864
    assert round(total / 10**9, 2) == 25.76 and round(total / GiB, 2) == 23.99
    # On a CUDA 13.0 driver deviceQuery prints "24081 MBytes (25250627584 bytes)": the capacity the engine uses.
    assert gpus["rtx-4090"].memory_bytes == 25_250_627_584
    # "an '80 GB' H100 is 79.2 GiB": deviceQuery "81090 MBytes (85028896768 bytes)", torch "total_memory=81089MB".
    h100 = gpus["h100-sxm"].memory_bytes
    assert h100 == 85_028_896_768 and round(h100 / GiB, 1) == 79.2
    # The old catalog sized against 80 x 10^9 bytes and 24 x 10^9 bytes: 6.3 % and 5.2 % low.
    assert h100 / (80 * 10**9) == pytest.approx(1.0629, abs=1e-4)


# (id, bytes as printed by the runtime, what printed it): quoted numbers, converted by hand.
REPORTED_FACTS = [
    ("a100-40gb-sxm", 42_298_834_944, "deviceQuery 40339 MBytes, bottlerocket-os/bottlerocket PR #3873"),
    ("a100-80gb-sxm", 84_987_740_160, "deviceQuery 81051 MBytes, CUDA driver 12.2"),
    ("rtx-3090", 25_414_860_800, "deviceQuery 24238 MBytes, CUDA driver 12.2"),
    ("rtx-5090", 33_668_857_856, "deviceQuery 32109 MBytes, CUDA driver 13.0"),
    ("rtx-6000-ada", 50_865_307_648, "unsloth-zoo PR #1053: total_memory == mem_get_info total"),
    ("t4", 15_642_329_088, "deviceQuery 14918 MBytes, CUDA driver 12.5"),
    ("l40s", 47_576_711_168, "cuda-device-query crate README, 45373 MBytes"),
    ("b200", 182_633 * MiB, "unsloth PR #8669: mem_get_info total 182633 MiB"),
    ("mi300x", 196_592 * MiB, "ROCm/ROCm #4203: total_memory=196592MB"),
    ("mi250x", 65_520 * MiB, "torch total_memory=65520MB per MI250X GCD"),
    ("h200-sxm", round(139.80 * GiB), "PyTorch OOM 'total capacity of 139.80 GiB' on 8xH200"),
    ("m3-max-128gb", 103_079_215_104, "llama.cpp 'recommendedMaxWorkingSetSize = 103079.22 MB' (10^6 B)"),
    ("m2-ultra-192gb", 154_618_822_656, "TVM PR #16398 tvm.metal().total_global_memory"),
]


@pytest.mark.parametrize(("gpu_id", "expected", "printed_by"), REPORTED_FACTS)
def test_reported_capacity_matches_the_runtime(
    gpus: dict[str, GpuEntry], gpu_id: str, expected: int, printed_by: str
) -> None:
    assert gpus[gpu_id].memory_bytes == gpus[gpu_id].reported_memory_bytes == expected, printed_by


def test_printed_mib_figures_round_trip(gpus: dict[str, GpuEntry]) -> None:
    # deviceQuery prints totalGlobalMem / 2^20 with "%.0f" (rounded) next to the exact bytes; torch's repr prints
    # total_memory // 2^20 ("MB", floored). H100: deviceQuery "81090 MBytes", torch "total_memory=81089MB".
    h100 = gpus["h100-sxm"].memory_bytes
    assert round(h100 / MiB) == 81090 and h100 // MiB == 81089
    assert round(gpus["rtx-4090"].memory_bytes / MiB) == 24081
    assert round(gpus["a100-40gb-sxm"].memory_bytes / MiB) == 40339


def test_ecc_already_excluded_from_device_totals(gpus: dict[str, GpuEntry]) -> None:
    # GDDR parts with ECC on give up 1/16 of the memory to parity: L40S (ECC on) vs RTX 6000 Ada (ECC off), both
    # AD102 with 48 GB; T4 16 GiB -> 15360 MiB.
    assert gpus["l40s"].device_total_mib == gpus["rtx-6000-ada"].device_total_mib * 15 // 16
    assert gpus["a10"].device_total_mib == gpus["rtx-a5000"].device_total_mib * 15 // 16  # GA102, 24 GB
    assert gpus["t4"].device_total_mib == 16 * 1024 * 15 // 16


def test_nvidia_driver_reservation_is_below_one_gib(gpus: dict[str, GpuEntry]) -> None:
    # nvidia-smi -q shows "Reserved" 304-700 MiB on the cards quoted in the catalog; what the runtime reports is
    # the total minus that reservation.
    nvidia = [g for g in gpus.values() if g.vendor == "nvidia"]
    assert len(nvidia) == 37
    for gpu in nvidia:
        assert gpu.device_total_mib is not None, gpu.id
        reserved = gpu.device_total_mib * MiB - gpu.reported_memory_bytes
        assert 200 * MiB < reserved < 1024 * MiB, gpu.id


def test_reported_never_exceeds_physical_or_device_total(gpus: dict[str, GpuEntry]) -> None:
    for gpu in gpus.values():
        assert gpu.reported_memory_bytes <= gpu.memory_gb * GiB, gpu.id
        if gpu.device_total_mib is not None:
            assert gpu.reported_memory_bytes <= gpu.device_total_mib * MiB, gpu.id


def test_estimates_say_so(gpus: dict[str, GpuEntry]) -> None:
    estimated = {g.id for g in gpus.values() if g.reported_memory_basis == "estimated"}
    for gpu_id in estimated:
        assert gpus[gpu_id].reported_memory_source.startswith("ESTIMATED"), gpu_id
    # Cards with a published runtime figure stay sourced, not estimated.
    assert not estimated & {"rtx-4090", "h100-sxm", "a100-80gb-sxm", "mi300x", "b200", "t4"}


def test_apple_capacity_is_metal_working_set(gpus: dict[str, GpuEntry]) -> None:
    apple = [g for g in gpus.values() if g.vendor == "apple"]
    assert len(apple) >= 5
    for gpu in apple:
        # recommendedMaxWorkingSetSize is 75% of RAM on Macs with more than 36 GB; RAM sizes are binary.
        assert gpu.reported_memory_bytes == gpu.memory_gb * GiB * 3 // 4, gpu.id
        assert gpu.device_total_mib == gpu.memory_gb * 1024, gpu.id
        assert gpu.max_per_node == 1
        assert gpu.interconnect == "unified"
        assert gpu.segment == "unified"


def test_usable_memory_gb_is_the_reported_bytes_in_decimal_gb(gpus: dict[str, GpuEntry]) -> None:
    assert gpus["b200"].usable_memory_gb == 191.5  # 182633 MiB = 191,502,270,464 B
    assert gpus["m4-pro-64gb"].usable_memory_gb == 51.54  # 48 GiB


def _entry(gpus: dict[str, GpuEntry], gpu_id: str) -> dict:
    return gpus[gpu_id].model_dump()


def test_schema_rejects_a_missing_or_hidden_source(gpus: dict[str, GpuEntry]) -> None:
    data = _entry(gpus, "h100-sxm")
    del data["reported_memory_source"]
    with pytest.raises(ValidationError, match="reported_memory_source"):
        GpuEntry.model_validate(data)
    data = _entry(gpus, "h100-sxm") | {"reported_memory_basis": "estimated"}
    with pytest.raises(ValidationError, match="must start with 'ESTIMATED'"):
        GpuEntry.model_validate(data)
    data = _entry(gpus, "h100-sxm") | {"device_total_source": None}
    with pytest.raises(ValidationError, match="device_total_mib and device_total_source"):
        GpuEntry.model_validate(data)


def test_schema_rejects_impossible_capacities(gpus: dict[str, GpuEntry]) -> None:
    with pytest.raises(ValidationError, match="exceeds memory_gb GiB"):
        GpuEntry.model_validate(_entry(gpus, "h100-sxm") | {"reported_memory_bytes": 81 * GiB})
    with pytest.raises(ValidationError, match="exceeds device_total_mib"):
        GpuEntry.model_validate(_entry(gpus, "h100-sxm") | {"reported_memory_bytes": 81560 * MiB})
    with pytest.raises(ValidationError, match="below half of memory_gb"):
        GpuEntry.model_validate(_entry(gpus, "h100-sxm") | {"reported_memory_bytes": 80 * 1024**2})


def test_load_catalog_names_the_field(tmp_path: Path, raw_text: str) -> None:
    data = json.loads(raw_text)
    del data["gpus"][3]["reported_memory_source"]
    (tmp_path / "models").mkdir()
    src = Path(__file__).resolve().parents[1] / "data" / "models"
    first = sorted(src.glob("*.json"))[0]
    (tmp_path / "models" / first.name).write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "gpus.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(str(tmp_path))
    assert str(err.value) == "gpus.json: gpus.3.reported_memory_source: Field required"


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


# ---------------------------------------------------------------------------------------------------------------
# data/runtime_overheads.json

OVERHEADS_JSON = Path(__file__).resolve().parents[1] / "data" / "runtime_overheads.json"
# outside_allocator_bytes of the six H200 runs in the project calibration set (CUDA 13.0, torch 2.11.0+cu130).
H200_OUTSIDE_ALLOCATOR = [780992512, 804061184, 804061184, 732758016, 804061184, 720175104]


@pytest.fixture(scope="module")
def overheads_raw() -> dict:
    return json.loads(OVERHEADS_JSON.read_text(encoding="utf-8"))


def test_overheads_file_is_formatted_and_valid(overheads_raw: dict) -> None:
    text = OVERHEADS_JSON.read_text(encoding="utf-8")
    assert text == json.dumps(overheads_raw, indent=2, ensure_ascii=False) + "\n"
    RuntimeOverheads.model_validate(overheads_raw)


def test_hopper_context_is_the_h200_measurement(gpus: dict[str, GpuEntry]) -> None:
    for gpu_id in ("h200-sxm", "h100-sxm", "h100-pcie"):
        ctx = cuda_context_bytes(gpus[gpu_id])
        assert ctx.bytes == max(H200_OUTSIDE_ALLOCATOR) and not ctx.estimated, gpu_id
    assert 0.67 < min(H200_OUTSIDE_ALLOCATOR) / GiB < max(H200_OUTSIDE_ALLOCATOR) / GiB < 0.75
    assert cuda_context_bytes(None).bytes == max(H200_OUTSIDE_ALLOCATOR)  # no GPU chosen: the measured rule
    assert nccl_buffer_bytes(None, 4).estimated
    # Larger than the 400 MiB the engine assumed before.
    assert max(H200_OUTSIDE_ALLOCATOR) > 400 * MiB


def test_other_generations_say_they_are_estimated(gpus: dict[str, GpuEntry]) -> None:
    for gpu_id in ("rtx-4090", "b200", "a100-80gb-sxm", "mi300x", "m4-max-128gb", "t4"):
        ctx = cuda_context_bytes(gpus[gpu_id])
        assert ctx.estimated and ctx.sources and "H200" in ctx.assumption, gpu_id


def test_eager_module_loading_costs_more(gpus: dict[str, GpuEntry], overheads_raw: dict) -> None:
    eager = cuda_context_bytes(gpus["rtx-3090"], module_loading="eager")
    assert eager.bytes == 1001 * MiB  # pytorch/pytorch #54564: "1001MiB / 24268MiB" on CUDA 11.1
    assert eager.bytes > cuda_context_bytes(gpus["rtx-3090"]).bytes
    # pytorch/pytorch PR #86509 on CUDA 11.7: 287,047,680 B lazy vs 666,632,192 B eager for the same command.
    by_id = {m["id"]: m["bytes"] for m in overheads_raw["context_measurements"]}
    assert by_id["cuda117-lazy-small-workload"] == 287_047_680
    assert by_id["cuda117-eager-small-workload"] == 666_632_192


def test_cuda_context_override(gpus: dict[str, GpuEntry]) -> None:
    ctx = cuda_context_bytes(gpus["h100-sxm"], override_mib=700)
    assert ctx.bytes == 700 * 1_048_576 and not ctx.estimated and "--cuda-context-mib" in ctx.assumption
    assert cuda_context_bytes(gpus["h100-sxm"], override_mib=0).bytes == 0
    for bad in (-1, 1.5, True, "700"):
        with pytest.raises(CatalogError, match="--cuda-context-mib"):
            cuda_context_bytes(gpus["h100-sxm"], override_mib=bad)  # type: ignore[arg-type]


def test_nccl_buffers(gpus: dict[str, GpuEntry]) -> None:
    a100 = gpus["a100-80gb-sxm"]
    assert nccl_buffer_bytes(a100, 1).bytes == 0
    two = nccl_buffer_bytes(a100, 2)
    assert two.bytes == 544 * MiB and not two.estimated  # NVIDIA/nccl #964, 4x A100 NVLink
    assert nccl_buffer_bytes(a100, 4).bytes == nccl_buffer_bytes(a100, 64).bytes == 688 * MiB
    h100 = nccl_buffer_bytes(gpus["h100-sxm"], 8)
    assert h100.bytes == 688 * MiB and h100.estimated  # measured on A100s
    a2a = nccl_buffer_bytes(gpus["h100-sxm"], 8, pattern="alltoall")
    assert a2a.bytes == 688 * MiB + round(
        (4.34 - 1.06) * GiB
    )  # NVIDIA/nccl #1685: 1.06 GB -> 4.34 GB on 8x H100
    assert nccl_buffer_bytes(a100, 8, override_mib=1024).bytes == GiB
    for bad in (0, -2, 2.0):
        with pytest.raises(CatalogError, match="ranks"):
            nccl_buffer_bytes(a100, bad)  # type: ignore[arg-type]


def test_overheads_schema_rejects_gaps_and_missing_sources(overheads_raw: dict) -> None:
    data = json.loads(json.dumps(overheads_raw))
    data["context_rules"][2]["architectures"].remove("ada")
    with pytest.raises(ValidationError, match="every architecture exactly once for lazy"):
        RuntimeOverheads.model_validate(data)
    data = json.loads(json.dumps(overheads_raw))
    data["nccl_rules"][0]["measurements"] = ["nope"]
    with pytest.raises(ValidationError, match="unknown measurement 'nope'"):
        RuntimeOverheads.model_validate(data)
    data = json.loads(json.dumps(overheads_raw))
    del data["context_measurements"][0]["source"]
    with pytest.raises(ValidationError, match="source"):
        RuntimeOverheads.model_validate(data)


def test_load_runtime_overheads_names_the_field(tmp_path: Path, overheads_raw: dict) -> None:
    data = json.loads(json.dumps(overheads_raw))
    del data["nccl_measurements"][1]["source"]
    (tmp_path / "runtime_overheads.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_runtime_overheads(str(tmp_path))
    assert str(err.value) == "runtime_overheads.json: nccl_measurements.1.source: Field required"
