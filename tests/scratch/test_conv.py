"""Convolution and pooling written out, against ``torch.nn.functional`` and the book.

Values and gradients are compared in float64, where the scratch loops over
kernel offsets and torch's kernels differ only in summation order.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from shallownet.errors import UsageError
from shallownet.scratch import (
    AvgPool2d,
    Conv2d,
    MaxPool2d,
    avg_pool2d,
    conv2d,
    corr2d,
    max_pool2d,
    output_size,
)

F64 = torch.float64
TOL = {"rtol": 1e-10, "atol": 1e-10}


def randn(*shape, seed: int = 0, requires_grad: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=F64).requires_grad_(requires_grad)


def twins(*tensors):
    """Independent leaf copies (same values, their own .grad)."""
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def grads_of(out: torch.Tensor, inputs, seed: int = 99) -> list[torch.Tensor]:
    """Gradients of ``sum(out * R)`` for a fixed random ``R``: a generic vector-Jacobian product."""
    R = randn(*out.shape, seed=seed)
    return list(torch.autograd.grad((out * R).sum(), inputs))


# --------------------------------------------------------------------------------------------
# output_size and corr2d: the book's formulas and example
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "padding", "stride", "expected"),
    [
        (100, 3, 0, 1, 98),
        (28, 5, 2, 1, 28),
        (28, 2, 0, 2, 14),
        (8, 3, 1, 2, 4),
        (7, 3, 0, 3, 2),
        (5, 5, 0, 1, 1),
        (1, 3, 1, 1, 1),
        (10, 3, 2, 3, 4),
    ],
)
def test_output_size_examples(size, kernel, padding, stride, expected):
    assert output_size(size, kernel, padding, stride) == expected


def test_output_size_is_floor_formula_and_matches_torch():
    for size, kernel, padding, stride in itertools.product(
        range(1, 12), range(1, 6), range(0, 3), range(1, 4)
    ):
        formula = (size + 2 * padding - kernel) // stride + 1
        if formula < 1:
            with pytest.raises(UsageError, match="does not fit"):
                output_size(size, kernel, padding, stride)
            continue
        assert output_size(size, kernel, padding, stride) == formula
        if size in (1, 4, 7, 11):
            x = torch.zeros(1, 1, size, 1)
            w = torch.zeros(1, 1, kernel, 1)
            assert F.conv2d(x, w, stride=stride, padding=padding).shape[2] == formula


@pytest.mark.parametrize(
    ("size", "kernel", "padding", "stride"),
    [(2, 3, 0, 1), (4, 5, 0, 1), (4, 5, 0, 3), (1, 5, 1, 1), (0, 1, 0, 1)],
)
def test_output_size_refuses_a_window_that_does_not_fit(size, kernel, padding, stride):
    with pytest.raises(UsageError, match=f"{kernel}-wide window"):
        output_size(size, kernel, padding, stride)


def test_corr2d_book_example():
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    Y = corr2d(X, K)
    assert torch.equal(Y, torch.tensor([[19.0, 25.0], [37.0, 43.0]]))
    assert torch.equal(conv2d(X.reshape(1, 1, 3, 3), K.reshape(1, 1, 2, 2))[0, 0], Y)


def test_corr2d_edge_detector_and_agreement_with_conv2d():
    # The book's edge detection: K = [[1, -1]] finds the vertical edges of a 6x8 image.
    X = torch.ones(6, 8, dtype=F64)
    X[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]], dtype=F64)
    expected = torch.zeros(6, 7, dtype=F64)
    expected[:, 1] = 1
    expected[:, 5] = -1
    assert torch.equal(corr2d(X, K), expected)
    assert torch.equal(corr2d(X.T, K), torch.zeros(8, 5, dtype=F64))  # no horizontal edges
    X, K = randn(7, 5, seed=1), randn(3, 2, seed=2)
    Y = corr2d(X, K)
    assert Y.shape == (5, 4)
    torch.testing.assert_close(Y, conv2d(X[None, None], K[None, None])[0, 0], **TOL)
    torch.testing.assert_close(Y, F.conv2d(X[None, None], K[None, None])[0, 0], **TOL)


# --------------------------------------------------------------------------------------------
# conv2d against F.conv2d: values and gradients
# --------------------------------------------------------------------------------------------

CONV_GRID = list(
    itertools.product(
        (1, 2, 3),  # stride
        (0, 1, 2),  # padding
        ((1, 1), (3, 3), (2, 3)),  # kernel (k_h, k_w)
    )
)


@pytest.mark.parametrize(("stride", "padding", "kernel"), CONV_GRID)
def test_conv2d_matches_torch_values_and_gradients(stride, padding, kernel):
    X, W, b = randn(2, 3, 7, 9, seed=1), randn(4, 3, *kernel, seed=2), randn(4, seed=3)
    Xs, Ws, bs = twins(X, W, b)
    Xt, Wt, bt = twins(X, W, b)
    got = conv2d(Xs, Ws, bs, stride=stride, padding=padding)
    expected = F.conv2d(Xt, Wt, bt, stride=stride, padding=padding)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, **TOL)
    for g, e in zip(grads_of(got, (Xs, Ws, bs)), grads_of(expected, (Xt, Wt, bt)), strict=True):
        torch.testing.assert_close(g, e, **TOL)


@pytest.mark.parametrize("n", [1, 3])
def test_conv2d_without_bias_batch_sizes_and_single_channels(n):
    X, W = randn(n, 1, 6, 4, seed=4), randn(1, 1, 3, 3, seed=5)
    torch.testing.assert_close(conv2d(X, W), F.conv2d(X, W), **TOL)
    X, W = randn(n, 5, 5, 8, seed=6), randn(2, 5, 2, 2, seed=7)
    torch.testing.assert_close(
        conv2d(X, W, stride=2, padding=1), F.conv2d(X, W, stride=2, padding=1), **TOL
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    k_h=st.integers(1, 4),
    k_w=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_property_conv2d_matches_torch(n, c_in, c_out, h, w, k_h, k_w, stride, padding, seed):
    X = randn(n, c_in, h, w, seed=seed)
    W = randn(c_out, c_in, k_h, k_w, seed=seed + 1)
    b = randn(c_out, seed=seed + 2)
    if h + 2 * padding < k_h or w + 2 * padding < k_w:
        with pytest.raises(UsageError):
            conv2d(X, W, b, stride=stride, padding=padding)
        return
    got = conv2d(X, W, b, stride=stride, padding=padding)
    expected = F.conv2d(X, W, b, stride=stride, padding=padding)
    assert got.shape == (
        n,
        c_out,
        (h + 2 * padding - k_h) // stride + 1,
        (w + 2 * padding - k_w) // stride + 1,
    )
    torch.testing.assert_close(got, expected, **TOL)


def test_conv2d_gradcheck():
    X = randn(2, 2, 5, 4, seed=8, requires_grad=True)
    W = randn(3, 2, 3, 2, seed=9, requires_grad=True)
    b = randn(3, seed=10, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda X, W, b: conv2d(X, W, b, stride=2, padding=1), (X, W, b)
    )
    assert torch.autograd.gradcheck(lambda X, W: conv2d(X, W), (X, W))


def test_conv2d_refuses_mismatched_channels_and_non_image_input():
    W = torch.zeros(4, 3, 3, 3)
    with pytest.raises(UsageError, match="3 input channels"):
        conv2d(torch.zeros(1, 2, 8, 8), W)
    with pytest.raises(UsageError, match="3 input channels"):
        conv2d(torch.zeros(2, 8, 8), W)  # one image, with 2 channels
    with pytest.raises(UsageError, match="expects images"):
        conv2d(torch.zeros(1, 1, 3, 8, 8), W)
    with pytest.raises(UsageError, match="does not fit"):
        conv2d(torch.zeros(1, 3, 2, 8), W)


@pytest.mark.parametrize("kwargs", [{"stride": 0}, {"padding": -1}, {"padding": 1.5}])
def test_conv2d_function_refuses_bad_stride_and_padding(kwargs):
    with pytest.raises(UsageError):
        conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(3, 2, 3, 3), **kwargs)


# --------------------------------------------------------------------------------------------
# Pooling against F.max_pool2d / F.avg_pool2d
# --------------------------------------------------------------------------------------------

POOLS = [(max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)]
POOL_GRID = [
    (k, s, p)
    for k, s, p in itertools.product((1, 2, 3, 4), (1, 2, 3), (0, 1, 2))
    if p <= k // 2
]


@pytest.mark.parametrize(("ours", "theirs"), POOLS, ids=["max", "avg"])
@pytest.mark.parametrize(("kernel", "stride", "padding"), POOL_GRID)
def test_pooling_matches_torch_values_and_gradients(ours, theirs, kernel, stride, padding):
    X = randn(2, 3, 7, 10, seed=11)
    (Xs,), (Xt,) = twins(X), twins(X)
    got = ours(Xs, kernel, stride, padding)
    expected = theirs(Xt, kernel, stride, padding)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, **TOL)
    torch.testing.assert_close(grads_of(got, [Xs])[0], grads_of(expected, [Xt])[0], **TOL)


@pytest.mark.parametrize(("ours", "theirs"), POOLS, ids=["max", "avg"])
@pytest.mark.parametrize("n", [1, 4])
def test_pooling_stride_defaults_to_kernel(ours, theirs, n):
    X = randn(n, 2, 9, 6, seed=12)
    got = ours(X, 3)
    assert got.shape == (n, 2, 3, 2)
    torch.testing.assert_close(got, theirs(X, 3), **TOL)
    torch.testing.assert_close(got, ours(X, 3, 3), **TOL)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"), [(2, 1, 0), (2, 2, 1), (3, 1, 1), (3, 2, 0)]
)
def test_max_pool_gradient_with_ties_goes_where_torch_sends_it(kernel, stride, padding):
    # Small integers: many windows hold their maximum twice. Like torch, the whole gradient
    # of a window goes to its first maximum in row-major order (not shared among the ties).
    X = torch.randint(0, 3, (2, 2, 7, 8), generator=torch.Generator().manual_seed(18)).to(F64)
    (Xs,), (Xt,) = twins(X), twins(X)
    got = max_pool2d(Xs, kernel, stride, padding)
    expected = F.max_pool2d(Xt, kernel, stride, padding)
    assert torch.equal(got, expected)
    torch.testing.assert_close(grads_of(got, [Xs])[0], grads_of(expected, [Xt])[0], **TOL)


def test_max_pool_pads_with_minus_infinity_and_avg_pool_counts_padding():
    X = -torch.ones(1, 1, 2, 2, dtype=F64)  # all negative: zero padding would win a max
    assert torch.equal(max_pool2d(X, 3, 1, 1), -torch.ones(1, 1, 2, 2, dtype=F64))
    # Each 3x3 window at a corner of a padded 2x2 holds the 4 ones and 5 padded zeros.
    assert torch.equal(avg_pool2d(-X, 3, 1, 1), torch.full((1, 1, 2, 2), 4 / 9, dtype=F64))


def test_book_pooling_example():
    X = torch.arange(9.0).reshape(1, 1, 3, 3)
    assert torch.equal(max_pool2d(X, 2, 1), torch.tensor([[[[4.0, 5.0], [7.0, 8.0]]]]))
    assert torch.equal(avg_pool2d(X, 2, 1), torch.tensor([[[[2.0, 3.0], [5.0, 6.0]]]]))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_property_pooling_matches_torch(n, c, h, w, kernel, stride, data, seed):
    padding = data.draw(st.integers(0, kernel // 2))
    X = randn(n, c, h, w, seed=seed)
    for ours, theirs in POOLS:
        if min(h, w) + 2 * padding < kernel:
            with pytest.raises(UsageError):
                ours(X, kernel, stride, padding)
            continue
        torch.testing.assert_close(
            ours(X, kernel, stride, padding), theirs(X, kernel, stride, padding), **TOL
        )


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d], ids=["max", "avg"])
def test_pooling_gradcheck(pool):
    X = randn(2, 2, 5, 6, seed=13, requires_grad=True)
    assert torch.autograd.gradcheck(lambda X: pool(X, 2, 1, 1), (X,))
    assert torch.autograd.gradcheck(lambda X: pool(X, 3, 2, 0), (X,))


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d], ids=["max", "avg"])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "match"),
    [
        (2, 1, 2, "between 0 and half the kernel"),
        (3, 1, 2, "between 0 and half the kernel"),
        (3, 1, -1, "between 0 and half the kernel"),
        (0, 1, 0, "kernel_size must be a positive integer"),
        (2, 0, 0, "stride must be a positive integer"),
        (2, -1, 0, "stride must be a positive integer"),
    ],
)
def test_pooling_refuses_bad_arguments(pool, kernel, stride, padding, match):
    with pytest.raises(UsageError, match=match):
        pool(torch.zeros(1, 1, 6, 6), kernel, stride, padding)


@pytest.mark.parametrize(("ours", "theirs"), POOLS, ids=["max", "avg"])
@pytest.mark.parametrize("padding", [0, 1])
def test_pooling_one_3d_image_works_like_torch(ours, theirs, padding):
    X = randn(2, 6, 5, seed=17)
    got = ours(X, 2, 2, padding)
    assert got.shape == theirs(X, 2, 2, padding).shape
    torch.testing.assert_close(got, theirs(X, 2, 2, padding), **TOL)


def test_conv2d_of_one_3d_image_works_like_torch():
    X, W, b = randn(2, 6, 5, seed=18), randn(3, 2, 3, 3, seed=19), randn(3, seed=20)
    torch.testing.assert_close(conv2d(X, W, b, padding=1), F.conv2d(X, W, b, padding=1), **TOL)


@pytest.mark.parametrize("fn", [conv2d, max_pool2d, avg_pool2d], ids=["conv", "max", "avg"])
def test_inputs_that_are_not_images_are_usage_errors(fn):
    args = (torch.zeros(2, 3, 3, 3),) if fn is conv2d else (2,)
    with pytest.raises(UsageError, match="expects images"):
        fn(torch.zeros(6, 5), *args)


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d], ids=["max", "avg"])
def test_pooling_refuses_a_window_larger_than_the_input(pool):
    with pytest.raises(UsageError, match="does not fit"):
        pool(torch.zeros(1, 1, 6, 2), 3)


# --------------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------------


def test_conv2d_layer_seed_document_example(seed):
    conv = Conv2d(5, 10, 3)
    assert conv.weight.shape == (10, 5, 3, 3)
    assert conv.bias.shape == (10,)
    assert conv(torch.randn(1, 5, 100, 100)).shape == (1, 10, 98, 98)


def test_conv2d_layer_parameters_init_and_forward(seed):
    conv = Conv2d(3, 8, 5, stride=2, padding=2, dtype=F64)
    assert dict(conv.named_parameters()).keys() == {"weight", "bias"}
    assert conv.weight.dtype == F64
    assert torch.equal(conv.bias.detach(), torch.zeros(8, dtype=F64))
    assert 0.005 < conv.weight.std().item() < 0.02  # N(0, 0.01²)
    with torch.no_grad():
        conv.bias.copy_(randn(8, seed=14))
    X = randn(2, 3, 11, 9, seed=15)
    expected = F.conv2d(X, conv.weight, conv.bias, stride=2, padding=2)
    got = conv(X)
    assert got.shape == (2, 8, 6, 5)
    torch.testing.assert_close(got, expected, **TOL)


def test_layer_reprs():
    assert repr(Conv2d(5, 10, 3)) == "Conv2d(5, 10, kernel_size=3, stride=1, padding=0)"
    assert repr(Conv2d(1, 6, 5, stride=2, padding=2)) == (
        "Conv2d(1, 6, kernel_size=5, stride=2, padding=2)"
    )
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"


@pytest.mark.parametrize(
    ("layer", "function", "theirs"),
    [(MaxPool2d, max_pool2d, F.max_pool2d), (AvgPool2d, avg_pool2d, F.avg_pool2d)],
)
def test_pool_layers_are_their_functions(layer, function, theirs):
    pool = layer(3, 2, 1)
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    assert list(pool.parameters()) == []
    X = randn(2, 3, 8, 7, seed=16)
    torch.testing.assert_close(pool(X), function(X, 3, 2, 1), **TOL)
    torch.testing.assert_close(pool(X), theirs(X, 3, 2, 1), **TOL)
    assert layer(2).stride == 2


def test_conv2d_layer_refuses_channel_mismatch():
    with pytest.raises(UsageError, match="3 input channels"):
        Conv2d(3, 4, 3)(torch.zeros(1, 1, 8, 8))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 4, 3), {}, "in_channels"),
        ((3, 0, 3), {}, "out_channels"),
        ((3, 4, 0), {}, "kernel_size"),
        ((3, 4, (3, 3)), {}, "kernel_size"),
        ((3, 4, 2.5), {}, "kernel_size"),
        ((True, 4, 3), {}, "in_channels"),
        ((3, 4, 3), {"stride": 0}, "stride"),
        ((3, 4, 3), {"padding": -1}, "padding cannot be negative"),
    ],
)
def test_conv2d_layer_refuses_bad_arguments(args, kwargs, match):
    with pytest.raises(UsageError, match=match):
        Conv2d(*args, **kwargs)


@pytest.mark.parametrize("layer", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((2, 2, 2), "half the kernel"),
        ((3, 1, 2), "half the kernel"),
        ((2, 1, -1), "half the kernel"),
        ((0,), "kernel_size"),
        ((2, 0), "stride"),
    ],
)
def test_pool_layers_refuse_bad_arguments(layer, args, match):
    with pytest.raises(UsageError, match=match):
        layer(*args)
