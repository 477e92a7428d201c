"""The section scripts in ``examples/d2lzh/`` and what each must print and draw when run.

Shared by the subprocess tests and the Jupyter-kernel tests. The scripts are
the code of *Dive-into-DL-PyTorch* (``d2lzh_pytorch``) with the import line
changed; the tests run them with ``SHALLOWNET_QUICK=1`` (2,048 training and
512 test images) and seed Python's, NumPy's and torch's generators from
outside, as the edition's code does not. The accuracy asked for is therefore
a loose one (clearly above chance where 40 steps can get there); the
edition's own accuracies at full settings are checked by
``benchmarks/d2lzh_sections.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "d2lzh"

#: Seeds the generators the edition's code draws from (``random`` for ``data_iter``,
#: NumPy for its initial weights, torch for the rest); the statement a run starts with.
SEEDING = "import random, numpy, torch; random.seed(0); numpy.random.seed(0); torch.manual_seed(0)"

#: What the runs' environment adds: the small data set, and one thread per process (the
#: tests run several at once, as many as there are CPUs).
QUICK_ENV = {"SHALLOWNET_QUICK": "1", "OMP_NUM_THREADS": "1"}

#: A line that ``d2l.train_ch3`` prints per epoch (``train_ch5`` adds the time).
EPOCH_LINE = re.compile(
    r"^epoch (\d+), loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)(, time [\d.]+ sec)?$",
    re.M)
#: A line that the linear-regression sections print per epoch (3.3 adds a colon).
REGRESSION_LINE = re.compile(r"^epoch (\d+), loss:? ([\d.]+)$", re.M)
#: 3.11's line after each fit.
FINAL_EPOCH = re.compile(r"^final epoch: train loss (\S+) test loss (\S+)$", re.M)
#: 3.12's line after each fit.
L2_NORM = re.compile(r"^L2 norm of w: (\S+)$", re.M)
#: 5.1's line every fifth step.
STEP_LINE = re.compile(r"^Step (\d+), loss ([\d.]+)$", re.M)

#: torch's warning when a DataLoader asks for more workers than the machine has CPUs
#: (3.5 asks for 4, as the edition does); on a smaller machine it is expected.
WORKER_WARNING = re.compile(
    r"^.*UserWarning: This DataLoader will create \d+ worker processes in total\..*\n"
    r"(?:\s+self\.check_worker_number_rationality\(\)\n)?", re.M)


@dataclass(frozen=True)
class Section:
    """One section's script and what its run (in quick mode) must produce."""

    script: str
    title: str
    runs: tuple[int, ...] = ()  # epochs of each train_ch3 / train_ch5 call, in order
    timed: bool = False  # train_ch5: "training on  DEVICE", then lines ending in "time S sec"
    min_test_acc: float | None = None  # the last epoch of every run, in quick mode
    regression_epochs: int = 0  # "epoch k, loss x" lines (linear regression)
    figures: tuple[str, ...] = ()  # kinds of the figure files written, in order
    printed: tuple[str, ...] = ()  # further text the run prints
    check: Callable[[str], None] | None = field(default=None, compare=False)

    @property
    def path(self) -> Path:
        return EXAMPLES / self.script

    @property
    def stem(self) -> str:
        return Path(self.script).stem


def _linear_regression_scratch(stdout: str) -> None:
    losses = [float(x) for _, x in REGRESSION_LINE.findall(stdout)]
    assert losses == sorted(losses, reverse=True), stdout  # falls every epoch
    assert losses[-1] < 1e-3, stdout  # the noise level, 0.01**2 / 2


def _linear_regression_concise(stdout: str) -> None:
    last = float(REGRESSION_LINE.findall(stdout)[-1][1])
    assert last < 1e-3, stdout  # the last minibatch's mean squared error: about 0.01**2


def _underfit_overfit(stdout: str) -> None:
    (fit_train, fit_test), (under_train, _), (over_train, over_test) = [
        (float(a), float(b)) for a, b in FINAL_EPOCH.findall(stdout)]
    assert fit_train < 0.01 and fit_test < 0.01, stdout  # the cubic fits
    assert under_train > 1, stdout  # a line cannot
    assert over_test > 1 and over_test > 10 * over_train, stdout  # two examples: overfits


def _weight_decay(stdout: str) -> None:
    norms = [float(x) for x in L2_NORM.findall(stdout)]
    assert len(norms) == 4, stdout
    assert norms[1] < norms[0] / 10 and norms[3] < norms[2] / 10, stdout  # decay shrinks w


def _conv_layer(stdout: str) -> None:
    steps = STEP_LINE.findall(stdout)
    assert [int(s) for s, _ in steps] == [5, 10, 15, 20], stdout
    losses = [float(x) for _, x in steps]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.1, stdout


SECTIONS = (
    Section("sec_3_2_linear_regression_scratch.py",
            "3.2 Implementation of linear regression from scratch",
            regression_epochs=3, figures=("figure",), check=_linear_regression_scratch),
    Section("sec_3_3_linear_regression_concise.py",
            "3.3 Concise implementation of linear regression",
            regression_epochs=3, check=_linear_regression_concise),
    Section("sec_3_5_fashion_mnist.py", "3.5 The image classification data set (Fashion-MNIST)",
            figures=("images",), printed=("2048 512", "torch.Size([1, 28, 28]) 9", " sec\n")),
    Section("sec_3_6_softmax_regression_scratch.py",
            "3.6 Implementation of softmax regression from scratch",
            runs=(5,), min_test_acc=0.6, figures=("images",),
            printed=("tensor([[5, 7, 9]])", "tensor([[0.1000],\n        [0.5000]])", "\n0.5\n")),
    Section("sec_3_7_softmax_regression_concise.py",
            "3.7 Concise implementation of softmax regression", runs=(5,), min_test_acc=0.6),
    Section("sec_3_9_mlp_scratch.py", "3.9 Implementation of multilayer perceptrons from scratch",
            runs=(5,), min_test_acc=0.4),
    Section("sec_3_10_mlp_concise.py", "3.10 Concise implementation of multilayer perceptrons",
            runs=(5,), min_test_acc=0.4),
    Section("sec_3_11_underfit_overfit.py",
            "3.11 Model selection, underfitting and overfitting",
            figures=("semilogy",) * 3, check=_underfit_overfit),
    Section("sec_3_12_weight_decay.py", "3.12 Weight decay",
            figures=("semilogy",) * 4, check=_weight_decay),
    Section("sec_3_13_dropout.py", "3.13 Dropout", runs=(5, 5), min_test_acc=0.15,
            printed=("tensor([[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.],",
                     "tensor([[0., 0., 0., 0., 0., 0., 0., 0.],")),
    Section("sec_5_1_conv_layer.py", "5.1 Two-dimensional convolutional layers",
            printed=("tensor([[19., 25.],\n        [37., 43.]])",
                     "[ 0.,  1.,  0.,  0.,  0., -1.,  0.]"), check=_conv_layer),
    Section("sec_5_2_padding_and_strides.py", "5.2 Padding and strides",
            printed=("torch.Size([8, 8])\ntorch.Size([8, 8])\ntorch.Size([4, 4])\n"
                     "torch.Size([2, 2])\n",)),
    Section("sec_5_3_channels.py", "5.3 Multiple input and output channels",
            printed=("tensor([[ 56.,  72.],\n        [104., 120.]])", "torch.Size([3, 2, 2, 2])",
                     "[[ 96., 128.],\n         [192., 224.]]]", "\nTrue\n")),
    Section("sec_5_4_pooling.py", "5.4 Pooling",
            printed=("tensor([[4., 5.],\n        [7., 8.]])",
                     "tensor([[2., 3.],\n        [5., 6.]])",
                     "tensor([[[[10.]]]])", "tensor([[[[ 5.,  7.],\n          [13., 15.]]]])",
                     "[[ 6.,  8.],\n          [14., 16.]]]]")),
    Section("sec_5_5_lenet.py", "5.5 Convolutional neural networks (LeNet)",
            runs=(5,), timed=True),  # 40 steps leave LeNet's sigmoids near chance: no minimum
)


def check_printed(section: Section, stdout: str) -> None:
    """The per-epoch lines are all there, the loss falls, the accuracy is above the minimum."""
    lines = EPOCH_LINE.findall(stdout)
    assert [int(e) for e, *_ in lines] == [k for n in section.runs for k in range(1, n + 1)], (
        stdout)
    assert all(bool(timed) == section.timed for *_, timed in lines), stdout
    start = 0
    for n in section.runs:
        run = lines[start:start + n]
        start += n
        first_loss, last_loss = float(run[0][1]), float(run[-1][1])
        assert last_loss < first_loss, stdout  # it learns
        if section.min_test_acc is not None:
            assert float(run[-1][3]) >= section.min_test_acc, stdout
    if section.timed:
        assert re.search(r"^training on  (cpu|cuda)", stdout, re.M), stdout
    if section.regression_epochs:
        epochs = [int(e) for e, _ in REGRESSION_LINE.findall(stdout)]
        assert epochs == list(range(1, section.regression_epochs + 1)), stdout
    for text in section.printed:
        assert text in stdout, stdout
    if section.check is not None:
        section.check(stdout)


def run_env(directory: Path) -> dict[str, str]:
    """The environment of a run: this process's, with ``QUICK_ENV``, an empty user cache and
    figures going to ``directory/figures``, and no ``SHALLOWNET_DATA`` of the caller's."""
    (directory / "cache").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "SHALLOWNET_DATA"}
    env.update(QUICK_ENV, SHALLOWNET_CACHE=str(directory / "cache"),
               SHALLOWNET_FIGURES=str(directory / "figures"))
    return env


def selected_sections(request) -> list[Section]:
    """The sections that the tests of ``request``'s module run in this session (all of
    them, or those ``-k`` or node ids chose), for a fixture that starts them all at once."""
    return [item.callspec.params["section"] for item in request.session.items
            if item.module is request.module and hasattr(item, "callspec")]


def unexpected_stderr(stderr: str) -> str:
    """``stderr`` without the lines a run may print: torch's warning about 3.5's four
    DataLoader workers on a machine with fewer CPUs."""
    return WORKER_WARNING.sub("", stderr)
