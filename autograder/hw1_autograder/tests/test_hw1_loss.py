"""SoftmaxCrossEntropy on (20, 10) logits ~ N(0, 9), two rows scaled to reach +-1000 (exp overflows there: use the
appendix's log-sum-exp), with one-hot labels: ce(x, y) is the per-example loss, shape (20,); ce.derivative() is
softmax(x) - y, not divided by the batch size. Reference: torch.log_softmax and the autograd gradient of the summed
loss."""

from reference_data import Reference


def test_softmax_cross_entropy_forward(loss):
    ref = Reference("loss")
    ce = loss.SoftmaxCrossEntropy()
    ref.check(ce(ref["logits"], ref["labels"]), "forward", "SoftmaxCrossEntropy.forward (per-example loss)",
              batch=len(ref["logits"]))


def test_softmax_cross_entropy_derivative(loss):
    ref = Reference("loss")
    ce = loss.SoftmaxCrossEntropy()
    ce(ref["logits"], ref["labels"])
    ref.check(ce.derivative(), "derivative", "SoftmaxCrossEntropy.derivative()", batch=len(ref["logits"]))
