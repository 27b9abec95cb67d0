"""ContrastCAM and VOICE for every class at once, against one backward per class, and the closed form.

    python bench/bench_contrast_cam.py [--repeats 5] [--loop-classes 100] [--threads 1]

For two classifiers, one image each, medians over --repeats runs after a warm-up:

* resnet18 (torchvision, randomly initialised: speed does not depend on the weights), 1,000
  classes at 224², target layer the last convolution (autograd) and ``layer4`` (what the
  average pool reads: the closed form applies);
* the demo classifier (``load_classifier("demo")`` when its weights are shipped, otherwise the
  same architecture randomly initialised as a stand-in), target layer ``features``, last
  convolution for the autograd rows.

Rows, each for all C contrast classes Q of one image (maps on the layer grid):

* ``contrast batched``: one forward, one batched backward of the C cotangents p − e_Q;
* ``contrast loop``: one forward, then one backward per class (``retain_graph``), the way one
  would call a one-target CAM C times;
* ``contrast closed``: one forward without gradients, α_Q = (Wᵀp − W_Q)/(hw) for all Q at once;
* ``voice batched`` / ``voice closed``: the whole VOICE (all Q ≠ P, ``classes="all"``: maps,
  variance at the input grid, metrics); ``voice loop``: one backward per class, each map
  upsampled and normalised, the variance accumulated; ``voice released``: as the released
  ``demo.py`` does it, a forward and a backward per class (over a tenth of --loop-classes when
  those are extrapolated; a lower bound: our forward records no graph before the layer, the
  released code's backward runs through the whole network).

When a loop over all 1,000 classes would be too slow it runs over --loop-classes classes and is
extrapolated linearly to C (the printout says so). Goal: batched or closed ≥ 10× the loop.
Wall-clock and CPU time (this process, all threads) are both printed. One thread by default:
on a CPU shared with other jobs, idle OpenMP threads spin at every barrier, which inflates both
clocks of small ops many times over (VOICE of the demo stand-in: 4 ms of CPU with one thread,
~240 ms with two under a load of 7 on 2 cores); ``--threads 2`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.gradients.cam import minmax_normalise  # noqa: E402
from core.gradients.cam_targets import ContrastTarget, ContrastTargets  # noqa: E402
from core.gradients.classifier_cam import ContrastCAM, GradCAM, upsample  # noqa: E402
from core.gradients.voice import voice  # noqa: E402
from core.models.classifier import ClassifierError, last_conv_layer  # noqa: E402


def median_seconds(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds (this process, all threads) of ``function``."""
    function()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def demo_model() -> tuple[nn.Module, nn.Module, int, str]:
    """(model, its GAP-read layer, input size, description): the shipped demo classifier, or its
    architecture with random weights while the weights are not there."""
    try:
        from core.models.classifier_loading import load_classifier

        record = load_classifier("demo")
        return record.model, record.layer(), record.preprocessing.size, "demo classifier (shipped weights)"
    except (ImportError, ClassifierError) as error:
        from core.models.demo_classifier import DemoClassifierNet
        from core.synthetic.shape_classes import CLASSES

        torch.manual_seed(0)
        model = DemoClassifierNet(len(CLASSES)).eval()
        return model, model.features, 64, f"demo classifier stand-in (random weights; {type(error).__name__})"


def contrast_loop(cam: ContrastCAM, inputs: torch.Tensor, classes: list[int]) -> list[torch.Tensor]:
    layer_pass = cam.forward(inputs)
    return [cam.explain(layer_pass, ContrastTarget(q)).grid for q in classes]


def voice_loop(cam: ContrastCAM, inputs: torch.Tensor, classes: list[int]) -> torch.Tensor:
    layer_pass = cam.forward(inputs)
    predicted = int(layer_pass.logits.argmax())
    total = squares = 0.0
    count = 0
    for q in classes:
        if q == predicted:
            continue
        contrast = upsample(cam.explain(layer_pass, ContrastTarget(q)).grid, layer_pass.input_size).double()
        total, squares, count = total + contrast, squares + contrast.pow(2), count + 1
    return minmax_normalise((squares / count - (total / count) ** 2).clamp_min(0))


def voice_released(cam: ContrastCAM, inputs: torch.Tensor, classes: list[int]) -> None:
    for q in classes:
        upsample(cam(inputs, ContrastTarget(q)).grid, tuple(inputs.shape[-2:]))


def bench_model(name: str, model: nn.Module, gap_layer: nn.Module, size: int, repeats: int,
                loop_classes: int) -> list[tuple[str, tuple[float, float], str]]:
    torch.manual_seed(1)
    inputs = torch.randn(1, 3, size, size)
    with torch.no_grad():
        count = model(inputs).shape[-1]
    conv = last_conv_layer(model)
    all_classes = ContrastTargets(torch.arange(count))
    autograd_cam = ContrastCAM(model, conv, closed_form=False)
    closed_cam = ContrastCAM(model, gap_layer, closed_form=True)
    subset = list(range(min(count, loop_classes)))
    scale = count / len(subset)
    note = "" if scale == 1 else f" (loop over {len(subset)} classes, ×{scale:g})"
    loop_repeats = repeats if scale == 1 else max(1, repeats // 2)
    def scaled(measured: tuple[float, float], factor: float = scale) -> tuple[float, float]:
        return factor * measured[0], factor * measured[1]

    few = subset if scale == 1 else subset[:max(1, len(subset) // 10)]
    few_note = "" if len(few) == count else f" (over {len(few)} classes, ×{count / len(few):g})"

    rows = [
        ("contrast batched", median_seconds(lambda: autograd_cam(inputs, all_classes), repeats), ""),
        ("contrast loop", scaled(median_seconds(lambda: contrast_loop(autograd_cam, inputs, subset), loop_repeats)),
         note),
        ("contrast closed", median_seconds(lambda: closed_cam(inputs, all_classes), repeats), ""),
        ("voice batched", median_seconds(lambda: voice(GradCAM(model, conv, closed_form=False), inputs, "all"),
                                         repeats), ""),
        ("voice loop", scaled(median_seconds(lambda: voice_loop(autograd_cam, inputs, subset), loop_repeats)), note),
        ("voice closed", median_seconds(lambda: voice(GradCAM(model, gap_layer, closed_form=True), inputs, "all"),
                                        repeats), ""),
        ("voice released", scaled(median_seconds(lambda: voice_released(autograd_cam, inputs, few), loop_repeats),
                                  count / len(few)), few_note),
    ]
    print(f"\n{name}: {count} classes, input {size}², layer grid "
          f"{tuple(autograd_cam.forward(inputs).activations.shape[1:])} (autograd) / "
          f"{tuple(closed_cam.forward(inputs).activations.shape[1:])} (closed form)")
    print(f"  {'':<17} {'wall ms':>9} {'CPU ms':>9}")
    for label, (wall, cpu), extra in rows:
        print(f"  {label:<17} {1000 * wall:9.1f} {1000 * cpu:9.1f}{extra}")
    times = {label: measured for label, measured, _ in rows}
    for what in ("contrast", "voice"):
        loop = times[f"{what} loop"]
        ratios = [f"loop / {kind} = {loop[0] / times[f'{what} {kind}'][0]:.1f}× wall, "
                  f"{loop[1] / times[f'{what} {kind}'][1]:.1f}× CPU" for kind in ("batched", "closed")]
        print(f"  {what}: " + "; ".join(ratios))
    released = times["voice released"]
    print(f"  voice: released / closed = {released[0] / times['voice closed'][0]:.0f}× wall, "
          f"{released[1] / times['voice closed'][1]:.0f}× CPU")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-classes", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"CPU, torch {torch.__version__}, threads {torch.get_num_threads()}; medians of {args.repeats} runs")
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18().eval()
    bench_model("resnet18 (random weights)", resnet, resnet.layer4, 224, args.repeats, args.loop_classes)
    model, layer, size, description = demo_model()
    bench_model(description, model, layer, size, args.repeats, args.loop_classes)


if __name__ == "__main__":
    main()
