"""Per-sample gradient features with torch.func against a Python loop over samples.

    python bench/bench_per_sample_gradients.py [--device cpu|cuda] [--repeats 3] [--batch 32]

For each model: the demo classifier (``load_classifier("demo")``; a randomly initialised
stand-in of the same GAP + linear design when the weights are not there), and a random
torchvision resnet18 at 64 × 64 inputs (1000 classes), times per batch of:

* Purview per-layer squared norms of ∂BCE(z, 1)/∂θ over every parameter: a loop of one
  forward and one backward per sample (``per_sample_gradients_loop``) vs torch.func
  (``per_sample_layer_norms``: vmap over grad of functional_call) and vs the batched path the
  app uses (``batched_layer_norms``: one batched pass, per-layer rules, torch.func for the rest);
* slide GradTrust (cross-entropy, k = 5): one batched forward, then vmap over samples and the
  1 + k classes of grad w.r.t. the head weight (``gradtrust_autograd``) vs a loop over samples
  (one forward each) and classes (one backward each); and the closed form;
* released GradTrust: vmap over samples (``gradtrust_released_autograd``) vs a loop over samples.

Ratios are loop / ours, the median over repeats of back-to-back pairs (goal ≥ 10 on the CPU). The "forward only" row (a loop of batch-1
forward passes against one batched forward, no gradients) is the ceiling for every feature
that needs a forward pass: on a compute-bound CPU a batched pass cannot beat the per-sample
loop by more than that. Medians over --repeats after a warm-up;
results of the paths are checked to agree before timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.gradients import gradient_trust  # noqa: E402
from core.gradients.classifier_head import forward_with_head  # noqa: E402
from core.gradients.layer_gradients import batched_layer_norms  # noqa: E402
from core.gradients.per_sample import layer_of, per_sample_gradients_loop, per_sample_layer_norms  # noqa: E402
from core.gradients.purview import confounding_loss  # noqa: E402
from core.models.classifier import ClassifierError, final_linear  # noqa: E402


def seconds(function, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def paired(loop, ours, repeats: int, device: torch.device) -> tuple[float, float, float]:
    """Median seconds of each and the median of the per-pair ratios, the two run back to back in
    every repeat (after one warm-up each), so that a CPU shared with other work slows both alike."""
    loop(), ours()
    pairs = [(seconds(loop, device), seconds(ours, device)) for _ in range(repeats)]
    return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
            statistics.median(a / b for a, b in pairs))


def demo_model() -> tuple[str, nn.Module, int]:
    try:
        from core.models.classifier_loading import load_classifier

        record = load_classifier("demo")
        return "demo classifier", record.model, record.preprocessing.size
    except (ImportError, ClassifierError) as error:
        print(f"(demo classifier not loaded: {str(error)[:80]}...; random stand-in)")
    torch.manual_seed(0)
    try:
        from core.models.demo_classifier import DemoClassifierNet

        return "demo CNN (random)", DemoClassifierNet(6).eval(), 64
    except ImportError:
        model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1, stride=2),
                              nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 6))
        return "GAP+linear CNN (random)", model.eval(), 64


def resnet18() -> tuple[str, nn.Module, int]:
    import torchvision

    torch.manual_seed(0)
    return "resnet18 (random, 64 px)", torchvision.models.resnet18(weights=None).eval(), 64


def purview_loop(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    gradients = per_sample_gradients_loop(model, x, confounding_loss)
    layers = list(dict.fromkeys(layer_of(name) for name in gradients))
    out = torch.zeros(x.shape[0], len(layers), dtype=torch.float64)
    for name, g in gradients.items():
        out[:, layers.index(layer_of(name))] += g.reshape(len(g), -1).double().pow(2).sum(1)
    return out


def gradtrust_loop(model: nn.Module, x: torch.Tensor, k: int = 5) -> torch.Tensor:
    weight = final_linear(model).weight
    out = []
    for b in range(x.shape[0]):
        logits = model(x[b:b + 1])
        classes = logits[0].topk(min(k, logits.shape[1] - 1) + 1).indices
        variances = []
        for c in classes:
            (g,) = torch.autograd.grad(F.cross_entropy(logits, c.view(1)), weight, retain_graph=True)
            variances.append(g.var(unbiased=False))
        out.append(variances[0] / torch.stack(variances[1:]).mean())
    return torch.stack(out)


def released_loop(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    weight = final_linear(model).weight
    out = []
    for b in range(x.shape[0]):
        logits = model(x[b:b + 1])
        (g,) = torch.autograd.grad((logits - 1.0 / logits.shape[1]).pow(2).mean(), weight)
        rows = g.pow(2).var(-1)
        out.append(rows.max() / rows.mean())
    return torch.stack(out)


def gradtrust_func(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    head_pass = forward_with_head(model, x)
    return gradient_trust.gradtrust_autograd(head_pass.head.weight, head_pass.head.bias, head_pass.features, k=5)


def released_func(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    head_pass = forward_with_head(model, x)
    return gradient_trust.gradtrust_released_autograd(head_pass.head.weight, head_pass.head.bias, head_pass.features)


def gradtrust_closed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    head_pass = forward_with_head(model, x)
    return gradient_trust.gradtrust(head_pass.logits, head_pass.features, k=5)


def bench_model(label: str, model: nn.Module, size: int, batch: int, repeats: int, device: torch.device) -> list:
    model = model.to(device).eval()
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    looped = purview_loop(model, x).cpu()
    vmapped = per_sample_layer_norms(model, x, confounding_loss)[0].cpu()
    torch.testing.assert_close(vmapped, looped, rtol=1e-3, atol=1e-10)
    torch.testing.assert_close(batched_layer_norms(model, x, confounding_loss)[0].cpu(), looped, rtol=1e-3, atol=1e-10)
    torch.testing.assert_close(gradtrust_func(model, x), gradtrust_loop(model, x), rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(gradtrust_closed(model, x), gradtrust_loop(model, x), rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(released_func(model, x), released_loop(model, x), rtol=1e-3, atol=1e-5)

    def forward_loop() -> None:
        with torch.no_grad():
            for b in range(x.shape[0]):
                model(x[b:b + 1])

    def forward_batched() -> None:
        with torch.no_grad():
            model(x)

    loops = {"purview": lambda: purview_loop(model, x), "gradtrust": lambda: gradtrust_loop(model, x),
             "released": lambda: released_loop(model, x), "forward": forward_loop}
    ours = (("forward", "only", forward_batched),
            ("purview", "vmap", lambda: per_sample_layer_norms(model, x, confounding_loss)),
            ("purview", "batched", lambda: batched_layer_norms(model, x, confounding_loss)),
            ("gradtrust", "vmap", lambda: gradtrust_func(model, x)),
            ("gradtrust", "closed", lambda: gradtrust_closed(model, x)),
            ("released", "vmap", lambda: released_func(model, x)),
            ("released", "closed", lambda: gradient_trust.gradtrust_released(forward_with_head(model, x).logits)))
    rows = []
    for feature, method, function in ours:
        loop_s, ours_s, ratio = paired(loops[feature], function, repeats, device)
        rows.append((label, f"{feature} {method}", 1000 * loop_s / batch, 1000 * ours_s / batch, ratio))
        print(f"{label:26} {rows[-1][1]:17} {rows[-1][2]:10.2f} {rows[-1][3]:10.2f} {rows[-1][4]:7.1f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}")
    print(f"{'model':26} {'feature':17} {'loop ms/img':>10} {'ours ms/img':>10} {'ratio':>7}")
    rows = []
    for label, model, size in (demo_model(), resnet18()):
        rows += bench_model(label, model, size, args.batch, args.repeats, device)
    used = [row for row in rows if row[1] in ("purview batched", "gradtrust closed", "released closed")]
    worst = min(used, key=lambda row: row[4])
    print(f"smallest ratio of the paths the app uses: {worst[4]:.1f} ({worst[0]}, {worst[1]}); goal ≥ 10")


if __name__ == "__main__":
    main()
