"""Train the shipped tiny SAM on procedural scenes (CPU or GPU), with a fixed seed.

    python packaging/train_tiny_sam.py --threads 2 --out resources/models/tiny_sam.pth
    python packaging/train_tiny_sam.py --scenes varied --max-clicks 4 --out runs/NAME   # resumable

``--out`` a .pth file: one run, its weights and log rewritten at every save (stages 1–5 of the shipped
model). ``--out`` a folder (no suffix): resumable, the same command continues from
the folder's last checkpoint with optimizer state and per-step seeds (``run_in_folder``), and
``model.pth`` there is an exponential moving average of the weights.
``--scenes varied`` trains on core.synthetic.training_scenes (many more textures and shapes,
the demo generator mixed in; ``varied_thin`` adds thin strokes and outlines, ``varied_photo``
natural-photo textures on top); ``--max-clicks`` and ``--random-click-share`` make the corrective-
click curriculum longer and less regular. From random weights it trains the small first
architecture (``TINY_SMALL_ARCHITECTURE``); ``--init`` trains whatever architecture that file
holds, e.g. one grown by packaging/grow_tiny_sam.py. packaging/reproduce_tiny_sam.sh runs every
stage of the shipped model.

Each step renders a batch of fresh scenes (core.synthetic.scenes), encodes them once, and
decodes several prompt sets per image (a whole batch's in one decoder call) with SAM's
interactive protocol: a first inclusion click inside an object (half the time at its most
interior point), then simulated corrective clicks (core.prompting.click_simulation; up to
``--max-clicks`` clicks in all) fed back with the previous low-res logits as mask input, as
SAM's own training did. Only the last decode of a step carries
gradients. The decoder computes all four mask tokens in one call: the single-output token
(what SAM returns without multimask output) is trained on every step, and for one click the
best of the three multimask outputs is trained too, as in SAM. Loss (default "dice"): Dice per
mask plus MSE of the IoU head against the true IoU of every output. SAM's own 20·focal + dice
("focal") and BCE + dice ("bce") are options; from scratch on the CPU, "focal" still predicted
all background after 300 steps and "bce" after 100, while "dice" had begun to follow the click.

Aligned attention at initialisation (``--align-gain``, default 2): in every attention of the
decoder's two-way transformer that compares tokens with image positions, the query and key
projections start as the same random matrix, so the point token's positional encoding meets
the image's positional encoding at the click from the first step. With PyTorch's default
initialisation the decoder settled on masks that ignored the click: after 9,850 CPU steps,
masks for clicks on different objects of one scene overlapped at IoU 0.97; with the aligned
start they overlapped at 0.12 after 200 steps (frozen encoder, measured on held-out scenes).
The checkpoint is a plain state dict, loadable exactly like an official SAM checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.atomic import atomic_torch_save, atomic_write_bytes  # noqa: E402
from core.models.grouping_loss import cell_labels, grouping_head, grouping_loss  # noqa: E402
from core.models.prompt_decoding import decode_low_res, encode_prompts, image_and_dense, upscale_to_input_frame  # noqa: E402
from core.models.sam_architecture import TINY_SMALL_ARCHITECTURE, architecture_from_state_dict, build_sam  # noqa: E402
from core.prompting.click_simulation import corrective_click, random_interior_point  # noqa: E402
from core.synthetic.training_examples import SCENE_GENERATORS, sample_example, sample_example_seeded  # noqa: E402


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """Per-mask sigmoid focal loss, mean over pixels: (..., H, W) → (...)."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(-2).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-mask soft Dice loss: (..., H, W) → (...)."""
    prob = logits.sigmoid().flatten(-2)
    target = target.flatten(-2)
    return 1 - (2 * (prob * target).sum(-1) + 1) / (prob.sum(-1) + target.sum(-1) + 1)


def hard_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of (logits > 0) against a {0,1} target: (..., H, W) → (...)."""
    pred = logits > 0
    truth = target > 0.5
    inter = (pred & truth).flatten(-2).sum(-1).float()
    union = (pred | truth).flatten(-2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))


def random_corrective_click(rng: np.random.Generator, prediction: np.ndarray, truth: np.ndarray, found):
    """Like ``corrective_click`` (same label rule), but at a random pixel of that error type at
    least 1 px inside it, not the centre of the largest error: a harder, less regular click.
    found: ``corrective_click(prediction, truth)``, computed already."""
    if found is None:
        return None
    error = (truth & ~prediction) if found[1] == 1 else (prediction & ~truth)
    return random_interior_point(rng, error, min_depth=1.0), found[1]


CLICK_THREADS = min(16, os.cpu_count() or 1)  # threads that find a step's corrective clicks
_CLICK_POOL = ThreadPoolExecutor(max_workers=CLICK_THREADS, thread_name_prefix="clicks")


def next_clicks(masks: np.ndarray, truths: np.ndarray, rng=None, random_click_share: float = 0.0):
    """The next corrective click of each of K prompt sets: masks, truths (K, S, S) bool.

    Returns K ((x, y), label) pairs, ((0, 0), -1) (padding, which SAM ignores) where a mask is
    exact. The centres of the largest errors are found in threads (OpenCV's distance transform
    releases the GIL), so a GPU's large batches do not wait on one core; the random share then
    draws from ``rng`` in prompt-set order.
    """
    found = list(_CLICK_POOL.map(corrective_click, masks, truths))
    clicks = []
    for k, click in enumerate(found):
        if random_click_share > 0 and rng.uniform() < random_click_share:
            click = random_corrective_click(rng, masks[k], truths[k], click)
        clicks.append(click if click else ((0, 0), -1))
    return clicks


def simulate_prompts(sam, embedding, truths, first_points, n_clicks, rng=None, random_click_share=0.0):
    """Run the click protocol without gradients; return the last step's inputs.

    embedding: (1, C, g, g), or (K, C, g, g) with prompt set k on image k (the whole batch's
    prompt sets decode in one call). truths: (K, S, S) float {0,1} in the input frame;
    first_points: (K, 2) (x, y).
    rng, random_click_share: that share of the corrective clicks goes to a random pixel of the
    error (``random_corrective_click``) instead of the centre of the largest error region.
    Returns coords (K, n, 2), labels (K, n), mask_input (K, 1, 4g, 4g) or None.
    """
    device = embedding.device
    coords = first_points[:, None, :].float().to(device)
    labels = torch.ones(coords.shape[:2], dtype=torch.int64, device=device)
    mask_input = None
    truth_np = truths.cpu().numpy() > 0.5
    with torch.no_grad():
        for click in range(1, n_clicks):
            multimask = click == 1
            low_res, iou_pred = decode_low_res(sam, embedding, coords, labels, mask_input, multimask)
            pick = iou_pred.argmax(1) if multimask else torch.zeros(len(coords), dtype=torch.long, device=device)
            low_res = low_res[torch.arange(len(coords), device=device), pick][:, None]
            masks = (upscale_to_input_frame(sam, low_res)[:, 0] > 0).cpu().numpy()
            clicks = next_clicks(masks, truth_np, rng, random_click_share)
            new_points, new_labels = [point for point, _ in clicks], [label for _, label in clicks]
            coords = torch.cat([coords, torch.tensor(new_points, dtype=torch.float32, device=device)[:, None]], 1)
            labels = torch.cat([labels, torch.tensor(new_labels, device=device)[:, None]], 1)
            mask_input = low_res
    return coords, labels, mask_input


def mask_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-mask loss (..., H, W) → (...): "focal" is SAM's 20·focal + dice, "bce" is BCE + dice."""
    if kind == "focal":
        return 20 * focal_loss(logits, target) + dice_loss(logits, target)
    if kind == "dice":
        return dice_loss(logits, target)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(-2).mean(-1)
    return bce + dice_loss(logits, target)


def align_decoder_attention(sam, gain: float) -> None:
    """Give every token↔image attention of the mask decoder equal query and key projections.

    Each such projection becomes W ~ N(0, gain²/d_in) with zero bias, so q·k contains
    (W·pe_point)·(W·pe_pixel) ≈ (gain²·d_out/d_in)·pe_point·pe_pixel: attention peaks where the
    image's positional encoding matches the prompt's. Training is free to move away from it.
    """
    transformer = sam.mask_decoder.transformer
    attentions = [transformer.final_attn_token_to_image]
    for layer in transformer.layers:
        attentions += [layer.cross_attn_token_to_image, layer.cross_attn_image_to_token]
    with torch.no_grad():
        for attention in attentions:
            weight = torch.randn_like(attention.q_proj.weight) * gain / attention.q_proj.weight.shape[1] ** 0.5
            attention.q_proj.weight.copy_(weight)
            attention.k_proj.weight.copy_(weight)
            attention.q_proj.bias.zero_()
            attention.k_proj.bias.zero_()


def decode_all_tokens(sam, embedding, coords, labels, mask_input):
    """All four mask tokens in one decoder call: (K, 4, 4g, 4g) low-res logits, (K, 4) IoUs.

    embedding: (1, C, g, g) or (K, C, g, g), one image per prompt set. Token 0 is SAM's single
    output (multimask off), tokens 1–3 its multimask outputs.
    """
    sparse, dense = encode_prompts(sam, coords, labels, mask_input)
    embedding, dense = image_and_dense(embedding, dense)
    return sam.mask_decoder.predict_masks(embedding, sam.prompt_encoder.get_dense_pe(), sparse, dense)


def training_step(sam, examples, n_clicks, loss_kind="dice", all_outputs_weight=0.0, rng=None,
                  random_click_share=0.0, head=None, grouping_weight=0.0):
    """One batch of examples from ``sample_example``: returns (loss, mean IoU of the single
    output, grouping loss or None).

    all_outputs_weight: weight of the mean loss over all three multimask outputs, added to the
    best one's for one click (0: SAM's rule, only the best output learns). Scenes here have one
    right answer per click, so this keeps the first output (the app's and PointPrompt's default
    candidate) from being left untrained.
    head, grouping_weight: with a head (``grouping_head``), add ``grouping_weight`` times the
    grouping loss (core.models.grouping_loss) of the projected embedding, averaged over images.
    """
    device = sam.device
    images, truths, firsts, objects = [], [], [], []
    for image, truth, first, object_map in examples:
        tensor = torch.as_tensor(image).permute(2, 0, 1).float().to(device)
        images.append(sam.preprocess(tensor[None])[0])
        truths.append(torch.from_numpy(truth).to(device))
        firsts.append(torch.from_numpy(first))
        objects.append(torch.from_numpy(object_map).long().to(device))
    batch_size = len(examples)
    embeddings = sam.image_encoder(torch.stack(images))
    grouping = None
    if head is not None:
        projected = head(embeddings)
        grouping = torch.stack([grouping_loss(projected[b], cell_labels(objects[b], projected.shape[-1]))
                                for b in range(batch_size)]).mean()
    # every prompt set of the batch decodes in one call, each on its own image's embedding
    counts = [len(truth) for truth in truths]
    per_prompt = torch.repeat_interleave(embeddings, torch.tensor(counts, device=device), dim=0)
    all_truths = torch.cat(truths)
    coords, labels, mask_input = simulate_prompts(sam, per_prompt.detach(), all_truths, torch.cat(firsts), n_clicks,
                                                  rng, random_click_share)
    low_res, iou_pred = decode_all_tokens(sam, per_prompt, coords, labels, mask_input)
    logits = upscale_to_input_frame(sam, low_res)
    target = all_truths[:, None].expand_as(logits)
    per_output = mask_loss(logits, target, loss_kind)  # (K, 4)
    true_iou = hard_iou(logits.detach(), target)
    losses, ious = [], []
    ends = np.cumsum(counts)
    for rows in (slice(end - count, end) for count, end in zip(counts, ends)):  # each image's prompt sets
        loss = per_output[rows, 0].mean()
        if n_clicks == 1:
            loss = loss + per_output[rows, 1:].min(1).values.mean() + all_outputs_weight * per_output[rows, 1:].mean()
        losses.append(loss + F.mse_loss(iou_pred[rows], true_iou[rows]))
        ious.append(true_iou[rows, 0].mean())
    loss = torch.stack(losses).mean()
    if grouping is not None:
        loss = loss + grouping_weight * grouping
    return loss, float(torch.stack(ious).mean()), None if grouping is None else grouping.item()


def optimisation_step(sam, optimizer, examples, n_clicks, args, rng, head=None):
    """One AdamW step on ``training_step``'s loss (gradients clipped to norm 1, the grouping
    head's included): (loss, mean IoU, grouping loss or None). With ``args.precision`` "bf16"
    the forward pass runs under bfloat16 autocast (weights, gradients and optimizer stay
    float32): on a CPU with AMX or AVX512-BF16 and on recent GPUs each step is faster."""
    with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
        loss, iou, grouping = training_step(sam, examples, n_clicks, args.loss, args.all_outputs_weight, rng,
                                            args.random_click_share, head, args.grouping_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trained_parameters(sam, head), 1.0)
    optimizer.step()
    return loss, iou, grouping


def build_grouping_head(sam, args):
    """The grouping loss's projection head on the embedding, or None when --grouping-weight is 0."""
    if args.grouping_weight <= 0:
        return None
    return grouping_head(sam.mask_decoder.transformer_dim).to(args.device).train()


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 2% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def build_model(args) -> torch.nn.Module:
    """A tiny SAM as the arguments ask: fresh (Fourier scale, aligned attention), then --init weights
    or --init-encoder's image encoder."""
    init = torch.load(args.init, map_location="cpu", weights_only=True) if args.init is not None else None
    # --init's own architecture (a grown encoder: packaging/grow_tiny_sam.py), else the small one
    sam = build_sam(architecture_from_state_dict(init) if init is not None else TINY_SMALL_ARCHITECTURE)
    # the Fourier-feature matrix is a buffer in the state dict, so the scale travels with the weights
    sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.mul_(args.pe_scale)
    if args.align_gain > 0:
        align_decoder_attention(sam, args.align_gain)
    if init is not None:  # the stored Fourier matrix replaces the freshly scaled one
        sam.load_state_dict(init)
    if args.init_encoder is not None:
        state = torch.load(args.init_encoder, map_location="cpu", weights_only=True)
        prefix = "image_encoder."
        sam.image_encoder.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return sam


def trained_parameters(sam, head) -> list[torch.nn.Parameter]:
    """What the optimizer updates: the SAM's parameters, then the grouping head's if any."""
    return list(sam.parameters()) + ([] if head is None else list(head.parameters()))


def click_count_probs(max_clicks: int) -> np.ndarray:
    """Chance of 1, 2, … max_clicks clicks in a step: half one click, the rest spread evenly
    (max_clicks 3 gives the shipped model's 0.5 / 0.25 / 0.25)."""
    if max_clicks == 1:
        return np.ones(1)
    return np.array([0.5] + [0.5 / (max_clicks - 1)] * (max_clicks - 1))


class WeightAverage:
    """Exponential moving average of a model's parameters; buffers (BatchNorm statistics, the
    Fourier matrix) are copied as they are. ``state_dict()`` is a plain SAM state dict."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.parameter_names = {name for name, _ in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for name, value in model.state_dict().items():
            if name in self.parameter_names:
                self.state[name].lerp_(value.detach(), 1 - self.decay)
            else:
                self.state[name].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.state.items()}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options (``argv`` None: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--prompts-per-image", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=("focal", "bce", "dice"), default="dice")
    parser.add_argument("--pe-scale", type=float, default=1.0,
                        help="scale of the prompt encoder's random Fourier features (SAM: 1); larger = sharper")
    parser.add_argument("--align-gain", type=float, default=2.0,
                        help="start token↔image attentions with equal query/key projections of this gain (0: off)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: bfloat16 autocast for the forward pass (weights stay float32); about 1.4x "
                             "faster steps on a CPU with AMX (bench/bench_training_step.py); stages 1-14 of "
                             "the shipped model were trained in fp32, stage 15 in bf16")
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--workers", type=int, default=0,
                        help="render scenes in this many processes (for GPU training); 0 renders in this "
                             "process from the main generator, as the shipped model was trained")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="end after this many steps without changing the --steps schedule")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from these tiny SAM weights (a previous run) instead of random ones")
    parser.add_argument("--all-outputs-weight", type=float, default=0.0,
                        help="for one click, also train every multimask output with this weight (0: only the best)")
    parser.add_argument("--init-encoder", type=Path, default=None,
                        help="take only the image encoder from these tiny SAM weights; prompt encoder and "
                             "decoder start fresh")
    parser.add_argument("--scenes", choices=tuple(SCENE_GENERATORS), default="demo",
                        help="training scene generator: the demo's (core.synthetic.scenes), the varied one "
                             "(core.synthetic.training_scenes), varied_thin (the varied one with thin strokes "
                             "and outlines) or varied_photo (varied_thin with natural-photo textures; needs "
                             "scikit-image)")
    parser.add_argument("--max-clicks", type=int, default=3,
                        help="clicks per prompt set: 1 half the time, else 2..max-clicks evenly (SAM-style "
                             "corrective clicks with the previous logits as mask input)")
    parser.add_argument("--random-click-share", type=float, default=0.0,
                        help="share of corrective clicks at a random pixel of the error instead of its centre")
    parser.add_argument("--ema", type=float, default=0.998,
                        help="run folders only: decay of the weight average written as model.pth")
    parser.add_argument("--save-minutes", type=float, default=10.0,
                        help="run folders only: also save when this many minutes passed since the last save")
    parser.add_argument("--grouping-weight", type=float, default=0.0,
                        help="weight of the auxiliary grouping loss on the embedding (core.models.grouping_loss; "
                             "0: off; the shipped model's last stage used 0.5)")
    parser.add_argument("--out", type=Path, default=Path("resources/models/tiny_sam.pth"),
                        help="a .pth file (one run, rewritten with its log at every save), or a run folder "
                             "(no suffix): resumable, see run_in_folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    torch.set_num_threads(args.threads)
    if args.out.suffix == "":
        run_in_folder(args)
        return

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    sam = build_model(args).to(args.device).train()
    head = build_grouping_head(sam, args)
    optimizer = torch.optim.AdamW(trained_parameters(sam, head), lr=args.lr, weight_decay=0.05)
    n_params = sum(p.numel() for p in sam.parameters())
    print(f"tiny SAM: {n_params / 1e6:.2f}M parameters, {args.steps} steps, seed {args.seed}", flush=True)
    log_path = args.out.with_suffix(".log.jsonl")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pool = multiprocessing.get_context("spawn").Pool(args.workers) if args.workers > 0 else None
    start = time.perf_counter()
    running_iou, running_loss = None, None
    records = []
    probs = click_count_probs(args.max_clicks)
    side = sam.image_encoder.img_size
    end = min(args.steps, args.stop_after or args.steps)
    # with workers, the seeded batches of step_batches; without, scenes from this run's one generator
    batches = step_batches(pool, args, side, 0, end) if pool is not None else None
    for step in range(end):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, args.warmup)
        n_clicks = int(rng.choice(np.arange(1, args.max_clicks + 1), p=probs))
        if batches is None:
            examples = [sample_example(rng, side, args.prompts_per_image, args.scenes) for _ in range(args.batch_size)]
        else:
            examples = next(batches)
        loss, iou, _ = optimisation_step(sam, optimizer, examples, n_clicks, args, rng, head)
        running_iou = iou if running_iou is None else 0.98 * running_iou + 0.02 * iou
        running_loss = loss.item() if running_loss is None else 0.98 * running_loss + 0.02 * loss.item()
        if (step + 1) % args.save_every == 0 or step + 1 in (args.steps, args.stop_after):
            elapsed = time.perf_counter() - start
            record = dict(step=step + 1, loss=round(running_loss, 4), train_iou=round(running_iou, 4),
                          seconds=round(elapsed, 1), seed=args.seed)
            print(json.dumps(record), flush=True)
            records.append(record)
            # this run's log, replaced with its weights: a rerun starts a log of its own, and the
            # log beside a model file always describes that file
            atomic_torch_save(sam.state_dict(), args.out)
            atomic_write_bytes(log_path, "".join(json.dumps(r) + "\n" for r in records).encode())
    if pool is not None:
        pool.close()
        pool.join()


def step_batches(pool, args, side: int, start: int, end: int):
    """The examples of steps start..end-1, each drawn from seeds (seed, step, index).

    With a worker pool the next step's batch renders while this one trains (one batch ahead):
    on a GPU a step takes less time than rendering its scenes in one process.
    """
    def jobs(step: int) -> list[tuple]:
        return [(args.seed, step, i, side, args.prompts_per_image, args.scenes) for i in range(args.batch_size)]

    if pool is None:
        for step in range(start, end):
            yield [sample_example_seeded(job) for job in jobs(step)]
        return
    pending = pool.map_async(sample_example_seeded, jobs(start)) if start < end else None
    for step in range(start, end):
        examples = pending.get()
        if step + 1 < end:
            pending = pool.map_async(sample_example_seeded, jobs(step + 1))
        yield examples


def run_in_folder(args) -> None:
    """Resumable training into the folder ``args.out``; the same command continues a stopped run.

    The folder holds ``checkpoint.pt`` (weights, weight average, optimizer state, step, log
    records, running figures, arguments), ``model.pth`` (the weight average: a plain SAM state
    dict, what to evaluate and ship), ``last.pth`` (the raw weights) and ``log.jsonl`` (one
    line per save). All randomness of step n comes from generators seeded by (seed, n), so a
    run stopped and resumed draws the same scenes, clicks and curriculum as one that was not.
    Saves every ``--save-every`` steps or ``--save-minutes`` minutes, whichever comes first;
    a killed run loses at most that much. --init / --init-encoder only matter at the start.
    """
    folder = args.out
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint_path, log_path = folder / "checkpoint.pt", folder / "log.jsonl"
    torch.manual_seed(args.seed)
    sam = build_model(args).to(args.device).train()
    head = build_grouping_head(sam, args)
    optimizer = torch.optim.AdamW(trained_parameters(sam, head), lr=args.lr, weight_decay=0.05)
    average = WeightAverage(sam, args.ema)
    step, records, running, elapsed_before = 0, [], {"iou": None, "loss": None, "grouping": None}, 0.0
    if checkpoint_path.exists():
        saved = torch.load(checkpoint_path, map_location=args.device, weights_only=False)
        sam.load_state_dict(saved["model"])
        if head is not None:
            head.load_state_dict(saved["grouping_head"])
        optimizer.load_state_dict(saved["optimizer"])
        average.state = {k: v.to(args.device) for k, v in saved["average"].items()}
        step, records, running, elapsed_before = saved["step"], saved["records"], saved["running"], saved["seconds"]
        changed = {k: (v, vars(args).get(k)) for k, v in saved["args"].items() if str(vars(args).get(k)) != v}
        print(f"resuming {folder} at step {step}" + (f"; arguments changed since: {changed}" if changed else ""),
              flush=True)
    n_params = sum(p.numel() for p in sam.parameters())
    print(f"tiny SAM: {n_params / 1e6:.2f}M parameters, {args.steps} steps, seed {args.seed}", flush=True)
    pool = multiprocessing.get_context("spawn").Pool(args.workers) if args.workers > 0 else None
    start = last_save = time.perf_counter()
    side = sam.image_encoder.img_size
    probs = click_count_probs(args.max_clicks)
    end = min(args.steps, args.stop_after or args.steps)
    batches = step_batches(pool, args, side, step, end)
    while step < end:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, args.warmup)
        rng = np.random.default_rng([args.seed, step, 1_000_000])
        torch.manual_seed(args.seed * 1_000_003 + step)
        n_clicks = int(rng.choice(np.arange(1, args.max_clicks + 1), p=probs))
        examples = next(batches)
        loss, iou, grouping = optimisation_step(sam, optimizer, examples, n_clicks, args, rng, head)
        average.update(sam)
        step += 1
        for key, value in (("iou", iou), ("loss", loss.item()), ("grouping", grouping)):
            if value is not None:
                running[key] = value if running.get(key) is None else 0.98 * running[key] + 0.02 * value
        now = time.perf_counter()
        if step % args.save_every == 0 or step == end or now - last_save > 60 * args.save_minutes:
            seconds = elapsed_before + now - start
            record = dict(step=step, loss=round(running["loss"], 4), train_iou=round(running["iou"], 4),
                          seconds=round(seconds, 1), seed=args.seed, lr=round(optimizer.param_groups[0]["lr"], 7))
            if running.get("grouping") is not None:
                record["grouping"] = round(running["grouping"], 4)
            print(json.dumps(record), flush=True)
            records.append(record)
            atomic_torch_save(average.state_dict(), folder / "model.pth")
            atomic_torch_save(sam.state_dict(), folder / "last.pth")
            atomic_torch_save(dict(model=sam.state_dict(), optimizer=optimizer.state_dict(), average=average.state,
                                   grouping_head=None if head is None else head.state_dict(),
                                   step=step, records=records, running=running, seconds=seconds,
                                   args={k: str(v) for k, v in vars(args).items()}), checkpoint_path)
            atomic_write_bytes(log_path, "".join(json.dumps(r) + "\n" for r in records).encode())
            last_save = now
    if pool is not None:
        pool.close()
        pool.join()


if __name__ == "__main__":
    main()
