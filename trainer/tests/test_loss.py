import torch
import torch.nn.functional as F

from refusenik_trainer.chunked_loss import linear_cross_entropy


def stock_loss(hidden, weight, labels, divisor=None):
    logits = (hidden @ weight.t()).float()
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    total = F.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction="sum")
    return total / (divisor if divisor is not None else (shift_labels != -100).sum())


def make(seed=0, b=3, t=11, h=16, v=50):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(b, t, h, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(v, h, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, v, (b, t), generator=g)
    labels[:, :4] = -100  # a masked prompt
    labels[1, 7:] = -100  # right padding
    return hidden, weight, labels


def test_chunked_matches_stock_loss_and_gradients():
    hidden, weight, labels = make()
    ref = stock_loss(hidden, weight, labels)
    gh_ref, gw_ref = torch.autograd.grad(ref, (hidden, weight))
    for chunk in (1, 4, 1024):
        ours = linear_cross_entropy(hidden, weight, labels, chunk_size=chunk)
        gh, gw = torch.autograd.grad(ours, (hidden, weight))
        torch.testing.assert_close(ours.double(), ref.double(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(gh, gh_ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(gw, gw_ref.to(gw.dtype), rtol=1e-5, atol=1e-6)


def test_masked_positions_do_not_count():
    hidden, weight, labels = make(seed=1)
    base = linear_cross_entropy(hidden, weight, labels, divisor=10.0)
    # Changing what the hidden states are at a position whose next label is -100 changes nothing...
    h2 = hidden.detach().clone()
    h2[:, 0:3] += 5.0  # positions 0..2 predict labels 1..3, all masked
    torch.testing.assert_close(linear_cross_entropy(h2, weight, labels, divisor=10.0), base)
    # ...while a counted position does.
    h2[:, 5] += 5.0
    assert not torch.allclose(linear_cross_entropy(h2, weight, labels, divisor=10.0), base)


def test_explicit_divisor_for_gradient_accumulation():
    hidden, weight, labels = make(seed=2)
    torch.testing.assert_close(
        linear_cross_entropy(hidden, weight, labels, divisor=100.0).double(),
        stock_loss(hidden, weight, labels, divisor=100.0).double(),
    )


def test_no_labels_gives_zero_loss_with_a_graph():
    hidden, weight, labels = make(seed=3)
    labels[:] = -100
    loss = linear_cross_entropy(hidden, weight, labels)
    loss.backward()
    assert loss.item() == 0.0 and hidden.grad is not None and torch.count_nonzero(hidden.grad) == 0
