"""The book-section scripts in ``examples/d2l/`` and what each must show when run.

Shared by the subprocess tests and the Jupyter-kernel tests. The scripts
are the book's code with only the import line changed; the tests seed
torch's global generator from outside (``torch.manual_seed(0)``), as the
book's code does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "d2l"

#: A line that ``d2l.train_ch3`` prints per epoch.
EPOCH_LINE = re.compile(
    r"^epoch +(\d+)/(\d+) +train loss ([\d.]+) +train acc ([\d.]+) +test acc ([\d.]+)", re.M
)
#: A line that the linear-regression sections print per epoch.
REGRESSION_LINE = re.compile(r"^epoch (\d+), loss ([\d.]+)$", re.M)


@dataclass(frozen=True)
class Section:
    """One book section's script and what its run must produce."""

    script: str
    epochs: int = 0  # train_ch3 epochs (each prints a line and redraws the Animator)
    min_test_acc: float | None = None  # the book's accuracy for the last epoch
    regression_epochs: int = 0  # "epoch k, loss x" lines (linear regression)
    figures: tuple[str, ...] = ()  # kinds of the figure files written, in order
    printed: tuple[str, ...] = ()  # further text the run prints

    @property
    def path(self) -> Path:
        return EXAMPLES / self.script

    @property
    def stem(self) -> str:
        return Path(self.script).stem


#: The sections the issue names: 3.2, 3.3, 3.5, 3.6, 3.7, 4.2, 4.3.
SECTIONS = (
    Section("sec_3_2_linear_regression_scratch.py", regression_epochs=3, figures=("figure",)),
    Section("sec_3_3_linear_regression_concise.py", regression_epochs=3),
    Section("sec_3_5_image_classification_dataset.py", figures=("images",), printed=(
        "60000 10000", "torch.Size([1, 28, 28])",
        "torch.Size([32, 1, 64, 64]) torch.float32 torch.Size([32]) torch.int64")),
    Section("sec_3_6_softmax_regression_scratch.py", epochs=10, min_test_acc=0.81,
            figures=("animator", "images")),
    Section("sec_3_7_softmax_regression_concise.py", epochs=10, min_test_acc=0.81,
            figures=("animator",)),
    Section("sec_4_2_mlp_scratch.py", epochs=10, min_test_acc=0.83,
            figures=("animator", "images")),
    Section("sec_4_3_mlp_concise.py", epochs=10, min_test_acc=0.83, figures=("animator",)),
)


def check_printed(section: Section, stdout: str) -> None:
    """The per-epoch lines are all there and the last epoch reaches the book's figures."""
    if section.epochs:
        lines = EPOCH_LINE.findall(stdout)
        assert [int(e) for e, *_ in lines] == list(range(1, section.epochs + 1)), stdout
        assert all(int(total) == section.epochs for _, total, *_ in lines)
        last_test_acc = float(lines[-1][4])
        assert last_test_acc >= section.min_test_acc, stdout
    for text in section.printed:
        assert text in stdout, stdout
    if section.regression_epochs:
        lines = REGRESSION_LINE.findall(stdout)
        assert [int(e) for e, _ in lines] == list(range(1, section.regression_epochs + 1))
        assert float(lines[-1][1]) < 1e-3, stdout  # the noise level, 0.01**2 / 2
