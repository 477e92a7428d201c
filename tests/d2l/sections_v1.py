"""The current edition's section scripts in ``examples/d2l_v1/`` and what each run must show.

Shared by the subprocess and the Jupyter-kernel tests in ``test_v1_sections.py``.
The scripts use the book's object API (``d2l.Trainer``, ``d2l.Module``,
``d2l.FashionMNIST``...) with the book's hyper-parameters; the tests run them
with ``SHALLOWNET_QUICK=1`` (2,048 training and 512 validation images) and
seed Python's, NumPy's and torch's generators from outside, as the book's
code does not. The accuracies asked for are therefore loose ones: clearly
above chance (0.1) where 80 steps get there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "d2l_v1"

#: The line ``d2l.Trainer.fit`` prints per epoch:
#: ``epoch  3/10  train loss 0.5123  val loss 0.5301  val acc 0.812  (1.1 s)``.
EPOCH_LINE = re.compile(
    r"^epoch +(\d+)/(\d+)  train loss (\S+)  val loss (\S+)(?:  val acc (\S+))?  \([\d.]+ s\)$",
    re.M)
#: 3.4's and 3.5's lines after training: ``error in estimating w: tensor([ 0.1190, -0.1690])``.
ESTIMATE_ERROR = re.compile(r"^error in estimating (w|b): tensor\(\[([^\]]*)\]\)$", re.M)
#: 3.7's line after each fit.
L2_NORM = re.compile(r"^L2 norm of w: (\S+)$", re.M)
#: What a run may print on stderr: where a figure went, and that quick mode shrank the data.
FIGURE_WRITTEN = "d2l: figure written to "
QUICK_LINE = "d2l: SHALLOWNET_QUICK is set: training on the first 2048 and testing on the first 512"


@dataclass(frozen=True)
class Section:
    """One section's script and what its run (in quick mode) must produce."""

    script: str
    title: str
    fits: tuple[int, ...] = ()  # max_epochs of each Trainer.fit, in order
    classifier: bool = False  # the epoch lines carry a val acc
    min_val_acc: float | None = None  # the last epoch of every fit, in quick mode
    fashion_mnist: bool = False  # reads d2l.FashionMNIST (quick mode says so on stderr)
    figures: tuple[str, ...] = ()  # kinds of the figures drawn, in order ("board", ...)
    printed: tuple[str, ...] = ()  # further text the run prints
    check: Callable[[str], None] | None = field(default=None, compare=False)

    @property
    def path(self) -> Path:
        return EXAMPLES / self.script

    @property
    def stem(self) -> str:
        return Path(self.script).stem


def _estimates(stdout: str) -> dict[str, list[float]]:
    return {name: [float(v) for v in values.split(",")]
            for name, values in ESTIMATE_ERROR.findall(stdout)}


def _estimate_within(bound: float) -> Callable[[str], None]:
    """The errors in w (two of them) and b are all below ``bound`` (they start at 2, 3.4, 4.2)."""

    def check(stdout: str) -> None:
        errors = _estimates(stdout)
        assert sorted(errors) == ["b", "w"] and len(errors["w"]) == 2, stdout
        assert all(abs(e) < bound for e in errors["w"] + errors["b"]), stdout

    return check


def _weight_decay(stdout: str) -> None:
    norms = [float(x) for x in L2_NORM.findall(stdout)]
    assert len(norms) == 3, stdout  # from scratch without and with decay, then concise
    assert norms[1] < norms[0] / 2 and norms[2] < norms[0] / 2, stdout  # decay shrinks w


def _dropout(stdout: str) -> None:
    """p = 0.5 keeps some of 0..15 doubled and zeroes the others."""
    match = re.search(r"^dropout_p = 0\.5: tensor\(\[\[(.*?)\]\]\)$", stdout, re.M | re.S)
    assert match, stdout
    values = [float(v) for v in re.findall(r"-?\d+\.?\d*", match.group(1))]
    assert len(values) == 16, stdout
    assert all(v in (0.0, 2.0 * i) for i, v in enumerate(values)), stdout
    assert 0 < sum(v > 0 for v in values) < 15, stdout  # some kept, some dropped (seed 0)


SECTIONS = (
    Section("sec_3_2_object_oriented_design.py", "3.2 Object-oriented design for implementation",
            figures=("board",),
            printed=('Class attribute "b" is 1\n', "self.a = 1 self.b = 2\n",
                     "There is no self.c = True\n")),
    Section("sec_3_4_linear_regression_scratch.py",
            "3.4 Linear regression implementation from scratch",
            fits=(3,), figures=("board",), check=_estimate_within(0.5)),
    Section("sec_3_5_linear_regression_concise.py",
            "3.5 Concise implementation of linear regression",
            fits=(3,), figures=("board",), check=_estimate_within(0.1)),
    Section("sec_3_7_weight_decay.py", "3.7 Weight decay",
            fits=(10, 10, 10), figures=("board",) * 3, check=_weight_decay),
    Section("sec_4_2_image_classification_dataset.py", "4.2 The image classification dataset",
            fashion_mnist=True, figures=("images",),
            printed=("2048 512\n", "torch.Size([1, 32, 32])\n",
                     "['t-shirt', 'trouser', 'pullover', 'ankle boot']\n",
                     "torch.Size([64, 1, 32, 32]) torch.float32 torch.Size([64]) torch.int64\n",
                     " sec\n")),
    Section("sec_4_4_softmax_regression_scratch.py",
            "4.4 Softmax regression implementation from scratch",
            fits=(10,), classifier=True, min_val_acc=0.6, fashion_mnist=True,
            figures=("board", "images"),
            printed=("tensor([[5., 7., 9.]]) tensor([[ 6.],\n        [15.]])\n",
                     " tensor([1.0000, 1.0000])\n", "tensor([0.1000, 0.5000])\n",
                     "tensor(1.4979)\n", "torch.Size([256])\n")),
    Section("sec_4_5_softmax_regression_concise.py",
            "4.5 Concise implementation of softmax regression",
            fits=(10,), classifier=True, min_val_acc=0.6, fashion_mnist=True,
            figures=("board",)),
    Section("sec_5_1_mlp.py", "5.1 Multilayer perceptrons", figures=("plot",) * 6),
    Section("sec_5_2_mlp_implementation.py", "5.2 Implementation of multilayer perceptrons",
            fits=(10, 10), classifier=True, min_val_acc=0.5, fashion_mnist=True,
            figures=("board",) * 2),
    Section("sec_5_6_dropout.py", "5.6 Dropout",
            fits=(10, 10), classifier=True, min_val_acc=0.4, fashion_mnist=True,
            figures=("board",) * 2,
            printed=("dropout_p = 0: tensor([[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.],\n"
                     "        [ 8.,  9., 10., 11., 12., 13., 14., 15.]])\n",
                     "dropout_p = 1: tensor([[0., 0., 0., 0., 0., 0., 0., 0.],\n"
                     "        [0., 0., 0., 0., 0., 0., 0., 0.]])\n"),
            check=_dropout),
    Section("sec_7_6_lenet.py", "7.6 Convolutional neural networks (LeNet)",
            # 160 steps leave LeNet's sigmoids near chance: no minimum accuracy
            fits=(10,), classifier=True, fashion_mnist=True, figures=("board",),
            printed=("Conv2d output shape:\t torch.Size([1, 6, 28, 28])\n",
                     "AvgPool2d output shape:\t torch.Size([1, 16, 5, 5])\n",
                     "Flatten output shape:\t torch.Size([1, 400])\n",
                     "Linear output shape:\t torch.Size([1, 10])\n")),
)


def check_printed(section: Section, stdout: str) -> None:
    """One epoch line per epoch of every fit, finite losses, the accuracy, the further text."""
    lines = EPOCH_LINE.findall(stdout)
    assert [(int(e), int(n)) for e, n, *_ in lines] == [
        (k, n) for n in section.fits for k in range(1, n + 1)], stdout
    start = 0
    for n in section.fits:
        fit = lines[start:start + n]
        start += n
        losses = [float(x) for _, _, train, val, _ in fit for x in (train, val)]
        assert all(math.isfinite(x) for x in losses), stdout
        assert all(bool(acc) == section.classifier for *_, acc in fit), stdout
        if section.min_val_acc is not None:
            assert float(fit[-1][4]) >= section.min_val_acc, stdout
    for text in section.printed:
        assert text in stdout, stdout
    if section.check is not None:
        section.check(stdout)


def unexpected_stderr(section: Section, stderr: str) -> list[str]:
    """The lines of ``stderr`` other than figure paths and (once, for Fashion-MNIST) the
    quick-mode notice; checks that the notice is there when it should be."""
    lines = stderr.splitlines()
    assert any(line.startswith(QUICK_LINE) for line in lines) == section.fashion_mnist, stderr
    return [line for line in lines
            if line.strip() and not line.startswith((FIGURE_WRITTEN, QUICK_LINE))]
