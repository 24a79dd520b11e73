"""Activations on a (20, 32) batch of N(0, 9) inputs: act(z) returns (and keeps in act.state) the output;
act.derivative() returns d(output)/dz element-wise. References: torch.sigmoid/tanh/relu and their autograd."""

from reference_data import Reference

ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}


def check_forward(activation, name):
    ref = Reference("activations")
    act = getattr(activation, ACTIVATIONS[name])()
    ref.check(act(ref["z"]), f"{name}.forward", f"{ACTIVATIONS[name]}.forward(z)")


def check_derivative(activation, name):
    ref = Reference("activations")
    act = getattr(activation, ACTIVATIONS[name])()
    act(ref["z"])
    ref.check(act.derivative(), f"{name}.derivative", f"{ACTIVATIONS[name]}.derivative()")


def test_sigmoid_forward(activation):
    check_forward(activation, "sigmoid")


def test_sigmoid_derivative(activation):
    check_derivative(activation, "sigmoid")


def test_tanh_forward(activation):
    check_forward(activation, "tanh")


def test_tanh_derivative(activation):
    check_derivative(activation, "tanh")


def test_relu_forward(activation):
    check_forward(activation, "relu")


def test_relu_derivative(activation):
    check_derivative(activation, "relu")
