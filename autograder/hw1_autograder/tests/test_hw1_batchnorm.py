"""BatchNorm inside hw1.MLP(784, 10, [64, 32], [Sigmoid, Sigmoid, Identity], num_bn_layers=1), lr 0.008, no
momentum, weights from np.random.seed(11785).

training: one batch of 20 near-identical images (a few pixels differ by 1-2 levels), so the first layer's batch
    variance is ~1e-4 and eps (1e-8) and the biased variance (divide by m) matter. Checks the training-mode
    output, then every gradient in backprop order (dgamma, dbeta are sums; dW, db means), then gamma and beta after
    one step (plain SGD); then, with gamma != 1 and beta != 0, the output and gradients on a second batch.
inference: 3 steps on 3 batches of 20, then running_mean, running_var (alpha 0.9, biased variance) and the eval
    mode output (mlp.eval(); mlp.forward(x_eval)) on 40 new images.
"""

from reference_data import Reference, batches, train_steps

BATCH = 20


def test_batch_norm_train(hw1, activation, loss):
    ref = Reference("batchnorm_train")
    mlp = ref.build_mlp(hw1, activation, loss)
    ref.check(mlp.forward(ref["x"]), "forward", "mlp.forward(x) in training mode")
    mlp.backward(ref["y"])
    ref.check_layers(mlp, ("dW", "db"), ("dgamma", "dbeta"))
    mlp.step()
    for name in ("gamma", "beta"):
        ref.check(getattr(mlp.bn_layers[0], name), f"step.bn_layers[0].{name}",
                  f"mlp.bn_layers[0].{name} after one step")
    # A second batch, now that gamma != 1 and beta != 0: a forgotten gamma or beta no longer hides.
    mlp.zero_grads()
    ref.check(mlp.forward(ref["second.x"]), "second.forward", "mlp.forward(x2) in training mode, after the step")
    mlp.backward(ref["second.y"])
    ref.check_layers(mlp, ("dW", "db"), ("dgamma", "dbeta"), prefix="second.")


def test_batch_norm_inference(hw1, activation, loss):
    ref = Reference("batchnorm_inference")
    mlp = ref.build_mlp(hw1, activation, loss)
    train_steps(mlp, batches(ref["x"], ref["y"], BATCH))
    for name in ("running_mean", "running_var"):
        ref.check(getattr(mlp.bn_layers[0], name), f"bn_layers[0].{name}",
                  f"mlp.bn_layers[0].{name} after 3 training steps", batch=BATCH)
    mlp.eval()
    ref.check(mlp.forward(ref["x_eval"]), "eval.forward", "mlp.forward(x_eval) in eval mode (after mlp.eval())",
              batch=BATCH)
