"""Huffman code lengths of 8-bit values: how many bits an image takes, for structure-wise evaluation.

The code is a static Huffman code built from the image's own histogram of byte values (all
channels of all pixels in one stream, 256 symbols), two-pass as a JPEG encoder's optimised
tables: bits(image) = Σ_v count(v) · length(v). The cost of sending the table itself is not
counted. A single-symbol image (a constant one) has codes of length 0, so 0 bits (its entropy);
any other histogram gives every used symbol at least one bit, and the total lies within one bit
per value of the histogram's entropy: uniform noise takes ≈ 8 bits per value.
"""

from __future__ import annotations

import heapq

import numpy as np


def huffman_code_lengths(counts: np.ndarray) -> np.ndarray:
    """(V,) symbol counts → (V,) int64 code lengths in bits (0 for unused symbols, and for the
    only symbol of a one-symbol histogram). Ties break by symbol order, so the result is
    deterministic."""
    counts = np.asarray(counts, dtype=np.int64)
    lengths = np.zeros(len(counts), dtype=np.int64)
    used = np.flatnonzero(counts)
    if len(used) < 2:
        return lengths
    # heap items: (count, tie-break, symbols under this node); merging two nodes deepens every leaf under them
    heap = [(int(counts[s]), i, [int(s)]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        count_a, _, symbols_a = heapq.heappop(heap)
        count_b, _, symbols_b = heapq.heappop(heap)
        merged = symbols_a + symbols_b
        lengths[merged] += 1
        heapq.heappush(heap, (count_a + count_b, tie, merged))
        tie += 1
    return lengths


def huffman_bits(image: np.ndarray) -> int:
    """Bits of an 8-bit image (any shape, uint8) under its own Huffman code."""
    if image.dtype != np.uint8:
        raise ValueError(f"Huffman bits need 8-bit values (uint8), got {image.dtype}")
    counts = np.bincount(image.reshape(-1), minlength=256)
    return int((counts * huffman_code_lengths(counts)).sum())
