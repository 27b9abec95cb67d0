"""Gradients at inference: explanation and uncertainty maps for SAM's masks and for classifiers.

Nothing here imports Qt. Maps are (H, W) float32 arrays in [0, 1] aligned with the image.

Classifiers: :mod:`.classifier_cam` (the CAM family's base: hooks, batching, closed form,
upsampling), :mod:`.cam_targets` and :mod:`.cam_weights` (what each method differs in),
:mod:`.explain_image` (one image, one map), :mod:`.voice` (explanation uncertainty),
:mod:`.explanation_eval` and :mod:`.structure_eval` (masking, pixel-wise and structure-wise
deletion / insertion). SAM: :mod:`.sam_maps`.
"""
