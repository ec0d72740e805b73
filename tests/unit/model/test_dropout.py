"""The trainer's dropout: drawn from the run's own generator (NumPy's on the CPU, torch's elsewhere), dropping the
configured share of units and keeping the expected value, the same masks for the same seed."""
import numpy as np
import pytest
import torch

from seqrec.model.recurrent import seeded_dropout


@pytest.mark.parametrize("p", [0.2, 0.5, 0.75])
def test_numpy_masks_drop_the_configured_share_and_keep_the_mean(p):
    x = torch.ones(64, 50, 128)
    out = seeded_dropout(x, p, True, np.random.default_rng(0))
    dropped = float((out == 0).float().mean())
    assert abs(dropped - p) < 0.005
    assert abs(float(out.mean()) - 1.0) < 0.01  # inverted dropout: kept units are scaled up by 1 / (1 - p)
    assert out.shape == x.shape and out.dtype == x.dtype


def test_the_same_seed_gives_the_same_masks_and_another_seed_others():
    x = torch.randn(8, 30, 16)
    a = seeded_dropout(x, 0.5, True, np.random.default_rng(3))
    b = seeded_dropout(x, 0.5, True, np.random.default_rng(3))
    c = seeded_dropout(x, 0.5, True, np.random.default_rng(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = np.random.default_rng(3)
    first, second = seeded_dropout(x, 0.5, True, g), seeded_dropout(x, 0.5, True, g)
    assert not torch.equal(first, second)  # the generator moves on: each batch gets fresh masks


def test_no_dropout_in_evaluation_or_at_zero_and_gradients_flow_through_kept_units():
    x = torch.randn(4, 5, 6, requires_grad=True)
    assert seeded_dropout(x, 0.5, False, np.random.default_rng(0)) is x
    assert seeded_dropout(x, 0.0, True, np.random.default_rng(0)) is x
    out = seeded_dropout(x, 0.5, True, np.random.default_rng(0))
    out.sum().backward()
    kept = out.detach() != 0
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 2.0))
    assert torch.all(x.grad[~kept] == 0)


def test_a_torch_generator_still_works_for_other_devices():
    x = torch.ones(32, 32)
    out = seeded_dropout(x, 0.25, True, torch.Generator().manual_seed(0))
    assert 0.15 < float((out == 0).float().mean()) < 0.35
