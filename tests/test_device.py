"""Device choice and precision."""

from __future__ import annotations

import pytest
import torch

from core.models.device import DeviceError, autocast, available_devices, effective_precision, select_device


def test_auto_picks_the_best_available_and_cpu_is_always_there():
    assert available_devices()[-1] == "cpu"
    assert select_device("auto").type == available_devices()[0]
    assert select_device(None) == select_device("auto")
    assert select_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(DeviceError, match="'cuda' is not available here; available: .*cpu"):
        select_device("cuda")


def test_half_precision_only_on_cuda():
    cpu = torch.device("cpu")
    assert effective_precision(cpu, "bf16") == "fp32"
    with autocast(cpu, "bf16"):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(DeviceError, match="Unknown precision 'fp8'"):
        effective_precision(cpu, "fp8")
