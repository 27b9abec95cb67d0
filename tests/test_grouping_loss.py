"""core.models.grouping_loss: cell labels from object maps, and a loss that is zero exactly when
the embedding groups cells by object."""

from __future__ import annotations

import numpy as np
import torch

from core.models.grouping_loss import IGNORE, cell_labels, grouping_head, grouping_loss
from core.synthetic.training_examples import sample_example


def test_cells_take_the_covering_object_keep_thin_objects_and_ignore_padding_and_mixtures():
    objects = torch.zeros(32, 32, dtype=torch.long)
    objects[:, 24:] = -1  # padding: the last column of cells
    objects[0:8, 0:8] = 1  # cell (0, 0) wholly object 1
    objects[8:16, 0:2] = 2  # cell (1, 0): a 2-px stroke, a quarter of the cell
    objects[16:24, 0:1] = 2  # cell (2, 0): 1 px, an eighth: background covers 7/8
    objects[0:8, 8:12] = 1  # cell (0, 1): half object 1, half background
    objects[24:32, 8:13] = 3  # cell (3, 1): 5/8 object 3
    objects[24:32, 13:16] = -1  # ... and 3/8 padding
    objects[8:16, 8:13] = 3  # cell (1, 1): 5/8 object 3 ...
    objects[8:16, 13:16] = 2  # ... 3/8 object 2: the larger share wins
    labels = cell_labels(objects, 4)
    assert labels[0, 0] == 1 and labels[1, 0] == 2 and labels[2, 0] == 0 and labels[0, 1] == 1
    assert labels[3, 1] == 3 and labels[1, 1] == 3
    assert (labels[:, 3] == IGNORE).all() and labels[3, 3] == IGNORE
    objects[0:8, 8:10] = 0
    objects[0:8, 10:16] = -1  # cell (0, 1): a quarter background, the rest padding
    assert cell_labels(objects, 4)[0, 1] == IGNORE


def test_loss_is_zero_for_grouped_features_and_positive_otherwise():
    labels = torch.tensor([[0, 0, 1], [1, 2, IGNORE], [2, 2, 0]])
    grouped = torch.nn.functional.one_hot(labels.clamp(min=0), 4).permute(2, 0, 1).float() * 3.0
    grouped[:, 1, 2] = torch.randn(4)  # an ignored cell may hold anything
    assert float(grouping_loss(grouped, labels)) == 0.0
    same = torch.ones(4, 3, 3)
    assert float(grouping_loss(same, labels)) == 1.0  # every different-object pair at cosine 1
    assert float(grouping_loss(torch.randn(4, 3, 3), torch.full((3, 3), IGNORE))) == 0.0


def test_gradient_descent_through_the_head_separates_objects():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (8, 8))
    embedding = torch.randn(16, 8, 8) + labels[None].float()  # objects differ, weakly, in the input
    head = grouping_head(16, 8)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    first = grouping_loss(head(embedding[None])[0], labels).item()
    for _ in range(100):
        loss = grouping_loss(head(embedding[None])[0], labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first


def test_training_examples_carry_an_object_map_matching_their_truths():
    image, truths, firsts, objects = sample_example(np.random.default_rng(4), 64, 3, "varied")
    height, width = image.shape[:2]
    assert objects.shape == (64, 64) and (objects[height:] == -1).all() and (objects[:, width:] == -1).all()
    for truth in truths:  # every prompted object is one label of the map, exactly
        numbers = np.unique(objects[truth > 0.5])
        assert len(numbers) == 1 and numbers[0] >= 1
        assert np.array_equal(objects == numbers[0], truth > 0.5)
