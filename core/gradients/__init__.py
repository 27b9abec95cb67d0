"""Gradients at inference: explanation and uncertainty maps for SAM's masks (and, later, classifiers).

Nothing here imports Qt. Maps are (H, W) float32 arrays in [0, 1] aligned with the image.
"""
