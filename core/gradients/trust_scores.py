"""Every trust / uncertainty score of a classifier's predictions, for a batch, in one call.

:func:`compute_trust_scores` takes (B, 3, S, S) preprocessed inputs and returns name → (B,)
NumPy arrays: ``prediction`` (int64 class index), the scores of :data:`SCORES`, and the Purview
features ``purview.<layer>`` (squared gradient norms per layer). :func:`image_trust_scores`
does the same for one (H, W, 3) uint8 image and returns floats.

Orientation: each score keeps its natural sign (an entropy is positive, an energy is −logsumexp)
and :data:`SCORES` says whether higher means "trust more"; :func:`as_trust` turns any score
into a trust value (higher = trust more) for ranking. Summary of orientations:

=====================  =============  ====================================================
score                  higher means   definition
=====================  =============  ====================================================
msp                    trust more     max_c p_c
entropy                less sure      H(p)
margin                 trust more     p₁ − p₂
max_logit              trust more     max_c z_c
nll                    less sure      −log p_P
energy                 less sure      −logsumexp(z)
odin                   trust more     max softmax(z(x̃)/T), x̃ the ODIN-perturbed input
mcd_total              less sure      H(mean_m p_m), M dropout passes
mcd_aleatoric          less sure      mean_m H(p_m)
mcd_epistemic          less sure      total − aleatoric
gradnorm               trust more     ‖∂[−Σ log p_c / C]/∂W‖₁
purview_total          less sure      Σ_layers ‖∂BCE(z, 1)/∂θ‖²
purview                less sure      P(challenge) of a fitted Purview detector (if given)
gradtrust              less sure      slide GradTrust (default): Var_P / mean_Q Var_Q
gradtrust_released     trust more     released-code GradTrust: max_c / mean_c Var(G_c²)
=====================  =============  ====================================================

Gradient scores need the model as an ``nn.Module`` with a linear head producing the logits
(core.gradients.classifier_head); for a TorchScript model they are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.gradients import gradient_trust, trust_baselines
from core.gradients.classifier_head import forward_with_head
from core.gradients.purview import PurviewDetector, purview_features
from core.models.classifier import ClassifierRecord


@dataclass(frozen=True)
class ScoreInfo:
    """A score's orientation (``higher_is_trust``), its table label and one-line definition."""

    higher_is_trust: bool
    label: str
    definition: str


SCORES: dict[str, ScoreInfo] = {
    "msp": ScoreInfo(True, "MSP", "maximum softmax probability"),
    "entropy": ScoreInfo(False, "Entropy", "predictive entropy H(p)"),
    "margin": ScoreInfo(True, "Margin", "p1 - p2"),
    "max_logit": ScoreInfo(True, "Max logit", "largest logit"),
    "nll": ScoreInfo(False, "NLL", "-log p of the predicted class"),
    "energy": ScoreInfo(False, "Energy", "-logsumexp(z)"),
    "odin": ScoreInfo(True, "ODIN", "MSP at temperature T of the perturbed input"),
    "mcd_total": ScoreInfo(False, "MCD total", "H(mean p) over M dropout passes"),
    "mcd_aleatoric": ScoreInfo(False, "MCD aleatoric", "mean H(p) over M dropout passes"),
    "mcd_epistemic": ScoreInfo(False, "MCD epistemic", "total - aleatoric"),
    "gradnorm": ScoreInfo(True, "GradNorm", "L1 norm of dKL(u||p)/dW"),
    "purview_total": ScoreInfo(False, "Purview (norm)", "sum of per-layer squared norms of dBCE(z,1)/dtheta"),
    "purview": ScoreInfo(False, "Purview (detector)", "P(challenge) of the logistic-regression detector"),
    "gradtrust": ScoreInfo(False, "GradTrust", "slide: Var grad(P) / mean Var grad(top-k Q)"),
    "gradtrust_released": ScoreInfo(True, "GradTrust (released)", "released code: max/mean row Var of G^2"),
}
GRADIENT_SCORES = ("gradnorm", "gradtrust", "gradtrust_released", "purview_total", "purview")


@dataclass(frozen=True)
class TrustOptions:
    """Which scores (None: all that apply) and their settings."""

    scores: tuple[str, ...] | None = None
    odin_temperature: float = 1000.0
    odin_epsilon: float = 0.0014  # in [0, 1] pixel units
    mc_passes: int = 20
    mc_seed: int = 0
    gradtrust_k: int = 5
    gradtrust_loss: gradient_trust.ContrastLoss = "ce"
    purview_chunk: int | None = None  # samples per vmap call (None: sized to ~256 MB of gradients)


def as_trust(name: str, values: np.ndarray) -> np.ndarray:
    """A score turned into trust (higher = trust more): negated when higher means less sure."""
    key = name if name in SCORES else name.split(".")[0]
    if key not in SCORES:
        raise KeyError(f"unknown trust score {name!r}; known: {', '.join(SCORES)}")
    values = np.asarray(values, np.float64)
    return values if SCORES[key].higher_is_trust else -values


def _wanted(options: TrustOptions, detector: PurviewDetector | None) -> list[str]:
    names = list(options.scores) if options.scores is not None else list(SCORES)
    unknown = [name for name in names if name not in SCORES]
    if unknown:
        raise KeyError(f"unknown trust score {', '.join(unknown)}; known: {', '.join(SCORES)}")
    return [name for name in names if name != "purview" or detector is not None]


def compute_trust_scores(record: ClassifierRecord, inputs: torch.Tensor, options: TrustOptions = TrustOptions(),
                         detector: PurviewDetector | None = None) -> dict[str, np.ndarray]:
    """All requested scores for (B, 3, S, S) preprocessed ``inputs`` (moved to the record's device).

    Returns ``prediction`` (B,) int64, each score (B,) float64, and ``purview.<layer>`` (B,)
    float64 when Purview is computed. ``purview`` (the detector's score) needs ``detector``.
    """
    model, x = record.model, inputs.to(record.device)
    wanted = _wanted(options, detector)
    scriptable = isinstance(model, torch.jit.ScriptModule)
    if scriptable:
        with torch.no_grad():
            logits, features = model(x).float(), None
    else:
        head_pass = forward_with_head(model, x)
        logits, features = head_pass.logits, head_pass.features
    out: dict[str, torch.Tensor | np.ndarray] = {"prediction": logits.argmax(-1)}
    simple = {"msp": trust_baselines.msp, "entropy": trust_baselines.entropy, "margin": trust_baselines.margin,
              "max_logit": trust_baselines.max_logit, "nll": trust_baselines.nll, "energy": trust_baselines.energy}
    for name in wanted:
        if name in simple:
            out[name] = simple[name](logits)
    if "odin" in wanted:
        out["odin"] = trust_baselines.odin(model, x, record.preprocessing.std, options.odin_temperature,
                                           options.odin_epsilon)
    if any(name.startswith("mcd_") for name in wanted):
        mc = trust_baselines.mc_dropout(model, x, options.mc_passes, options.mc_seed)
        out.update({f"mcd_{part}": mc[part] for part in ("total", "aleatoric", "epistemic")
                    if f"mcd_{part}" in wanted})
    nan = torch.full((x.shape[0],), float("nan"))
    for name in ("gradnorm", "gradtrust", "gradtrust_released"):
        if name in wanted and features is None:
            out[name] = nan
    if features is not None:
        if "gradnorm" in wanted:
            out["gradnorm"] = gradient_trust.gradnorm(logits, features)
        if "gradtrust" in wanted:
            out["gradtrust"] = gradient_trust.gradtrust(logits, features, options.gradtrust_k, options.gradtrust_loss)
        if "gradtrust_released" in wanted:
            out["gradtrust_released"] = gradient_trust.gradtrust_released(logits)
    if "purview_total" in wanted or "purview" in wanted:
        if scriptable:
            out.update({name: nan for name in ("purview_total", "purview") if name in wanted})
        else:
            norms, layers, _ = purview_features(model, x, chunk_size=options.purview_chunk)
            out["purview_total"] = norms.sum(1)
            out.update({f"purview.{layer}": norms[:, i] for i, layer in enumerate(layers)})
            if "purview" in wanted:
                out["purview"] = detector.challenge_probability(norms, layers)
    return {name: (value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value))
            .astype(np.int64 if name == "prediction" else np.float64) for name, value in out.items()}


def image_trust_scores(record: ClassifierRecord, image: np.ndarray, options: TrustOptions = TrustOptions(),
                       detector: PurviewDetector | None = None, layers: bool = False) -> dict[str, float]:
    """Every score for one (H, W, 3) uint8 RGB image, as floats; ``prediction`` is the class index
    (as a float) and ``layers`` adds the ``purview.<layer>`` features."""
    scores = compute_trust_scores(record, record.preprocessing.to_tensor(image, record.device), options, detector)
    return {name: float(values[0]) for name, values in scores.items() if layers or not name.startswith("purview.")}
