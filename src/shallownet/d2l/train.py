"""The book's training and evaluation loops: ``train_ch3`` (chapters 3-4) and ``train_ch6`` (LeNet).

Same signatures and results as the book's, with these fixes:

- correct counts and loss sums stay tensors until the end of an epoch
  (the book converts every batch's figures to Python floats);
- batches go to the device of the network's parameters;
- a loss that already averages over the batch (``nn.CrossEntropyLoss()``
  without ``reduction='none'``) is recognised: the reported loss and the
  update are then still those of the book's summed loss, not 1/batch of them;
- every epoch prints one line; a loss that becomes nan or inf stops training
  with :class:`~shallownet.errors.TrainingDiverged`, and the book's final
  ``assert``\\ s on the loss and accuracies are warnings that say what the
  book expects (:class:`BookCheckWarning`).
"""

from __future__ import annotations

import math
import time
import warnings

import torch
from torch import nn

from shallownet.d2l.animator import Animator, as_float
from shallownet.d2l.data import get_fashion_mnist_labels
from shallownet.d2l.figures import show_images
from shallownet.errors import TrainingDiverged, UsageError
from shallownet.metrics import Timer, count_correct
from shallownet.threads import adapting, keep_up
from shallownet.training.printing import format_epoch

__all__ = [
    "BookCheckWarning",
    "Accumulator",
    "accuracy",
    "evaluate_accuracy",
    "evaluate_loss",
    "train_epoch_ch3",
    "train_ch3",
    "predict_ch3",
    "evaluate_accuracy_gpu",
    "train_ch6",
]


class BookCheckWarning(UserWarning):
    """A result below what the book's code asserts after training."""


class Accumulator:
    """Running sums of ``n`` quantities: ``add(a, b, ...)``, ``reset()``, ``acc[i]``."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args) -> None:
        """Add one value to each sum (as many values as sums)."""
        if len(args) != len(self.data):
            raise UsageError(
                f"this Accumulator keeps {len(self.data)} sums but add() got {len(args)} values."
            )
        self.data = [a + as_float(b) for a, b in zip(self.data, args, strict=True)]

    def reset(self) -> None:
        """Set every sum back to 0."""
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y) -> float:
    """Number of correct predictions (a count, as in the book: divide by ``len(y)`` for a rate).

    ``y_hat`` is (n, q) scores, whose argmax is the prediction, or (n,) labels.
    """
    return float(count_correct(y_hat, y))


def _device(net) -> torch.device | None:
    """The device of ``net``'s parameters (None for a plain function or a parameterless module)."""
    if isinstance(net, nn.Module):
        param = next(net.parameters(), None)
        return None if param is None else param.device
    return None


def _to(tensor, device):
    if device is None:
        return tensor
    if isinstance(tensor, (list, tuple)):
        return [t.to(device) for t in tensor]
    return tensor.to(device)


def _total(parts: list[torch.Tensor]) -> float:
    """Sum of per-batch 0-d tensors, read from the device once, added in float64."""
    if not parts:
        return 0.0
    return float(torch.stack(parts).cpu().double().sum())


def _no_batches(what: str) -> UsageError:
    return UsageError(f"{what}: the data iterator gave no batches (is it empty or used up?).")


def evaluate_accuracy(net, data_iter) -> float:
    """Accuracy of ``net`` on ``data_iter``: correct / examples, in eval mode, without grad."""
    return _accuracy(net, data_iter, _device(net), "evaluate_accuracy")


def _accuracy(net, data_iter, device, what: str) -> float:
    if isinstance(net, nn.Module):
        net.eval()
    correct, examples = [], 0
    with torch.no_grad(), adapting():
        for X, y in data_iter:
            keep_up()
            X, y = _to(X, device), _to(y, device)
            correct.append(count_correct(net(X), y))
            examples += y.numel()
    if examples == 0:
        raise _no_batches(what)
    return _total(correct) / examples


def _summed(batch_loss: torch.Tensor, loss, count: int) -> torch.Tensor:
    """The batch's summed loss, whether ``loss`` kept one value per element or reduced them.

    A reduced (0-d) loss is a sum when the loss says so (``reduction='sum'``)
    and is otherwise taken for the mean over the ``count`` elements.
    """
    if batch_loss.ndim > 0:
        return batch_loss.sum()
    return batch_loss if getattr(loss, "reduction", None) == "sum" else batch_loss * count


def evaluate_loss(net, data_iter, loss) -> float:
    """Mean of ``loss`` over all elements of ``data_iter`` (``y`` reshaped like the output).

    Computed without gradients and, for a module, in eval mode (restored after).
    """
    device = _device(net)
    was_training = isinstance(net, nn.Module) and net.training
    if was_training:
        net.eval()
    sums, count = [], 0
    with torch.no_grad(), adapting():
        for X, y in data_iter:
            keep_up()
            X, y = _to(X, device), _to(y, device)
            out = net(X)
            y = y.reshape(out.shape)
            batch_loss = loss(out, y)
            elements = batch_loss.numel() if batch_loss.ndim > 0 else out.numel()
            sums.append(_summed(batch_loss, loss, elements))
            count += elements
    if was_training:
        net.train()
    if count == 0:
        raise _no_batches("evaluate_loss")
    return _total(sums) / count


def _is_optimizer(updater) -> bool:
    return isinstance(updater, torch.optim.Optimizer) or (
        hasattr(updater, "step") and hasattr(updater, "zero_grad"))


def train_epoch_ch3(net, train_iter, loss, updater) -> tuple[float, float]:
    """One pass over ``train_iter``; returns (mean training loss, training accuracy).

    ``updater`` is a ``torch.optim`` optimiser (stepped on the batch's mean
    loss) or a function ``updater(batch_size)`` such as ``d2l.sgd`` (called
    after backpropagating the batch's summed loss).
    """
    if isinstance(net, nn.Module):
        net.train()
    device = _device(net)
    optimizer = _is_optimizer(updater)
    losses, correct, examples = [], [], 0
    with adapting():  # the thread count follows the load (shallownet.threads)
        for X, y in train_iter:
            keep_up()
            X, y = _to(X, device), _to(y, device)
            y_hat = net(X)
            batch_loss = loss(y_hat, y)
            batch = X.shape[0] if hasattr(X, "shape") else len(y)
            summed = _summed(batch_loss, loss, batch)
            if optimizer:
                updater.zero_grad()
                (summed / batch).backward()
                updater.step()
            else:
                summed.backward()
                updater(batch)
            losses.append(summed.detach())
            correct.append(count_correct(y_hat.detach(), y))
            examples += y.numel()
    if examples == 0:
        raise _no_batches("train_epoch_ch3")
    return _total(losses) / examples, _total(correct) / examples


def _learning_rate(updater) -> str:
    groups = getattr(updater, "param_groups", None)
    return f" (lr {groups[0]['lr']:g})" if groups else ""


def _diverged(epoch: int, train_loss: float, updater) -> TrainingDiverged:
    return TrainingDiverged(
        f"the training loss became {train_loss} in epoch {epoch}: training diverged. Lower "
        f"the learning rate{_learning_rate(updater)}. If the loss takes the log of "
        "probabilities, a probability that rounds to 0 gives inf: compute the loss from "
        "logits instead (nn.CrossEntropyLoss(reduction='none') on the scores).",
        epoch=epoch, step=0,
    )


def _book_checks(train_loss: float, train_acc: float, test_acc: float, num_epochs: int) -> None:
    """The book ends ``train_ch3`` with asserts; here each unmet one is a clear warning."""
    expected = ("the book's softmax regression reaches this after 10 epochs at lr 0.1; "
                "train longer, or check the learning rate, the loss and the model")
    problems = []
    if not train_loss < 0.5:
        problems.append(f"train loss {train_loss:.4f} is not below 0.5")
    if not 0.7 < train_acc <= 1:
        problems.append(f"train accuracy {train_acc:.3f} is not above 0.7")
    if not 0.7 < test_acc <= 1:
        problems.append(f"test accuracy {test_acc:.3f} is not above 0.7")
    if problems:
        warnings.warn(f"after {num_epochs} epochs the {'; the '.join(problems)} ({expected}).",
                      BookCheckWarning, stacklevel=3)


def _check_epochs(num_epochs) -> None:
    if not isinstance(num_epochs, int) or isinstance(num_epochs, bool) or num_epochs < 1:
        raise UsageError(f"num_epochs must be a positive integer, not {num_epochs!r}.")


def _epoch_range(num_epochs: int) -> list[int] | None:
    """The book's x range ``[1, num_epochs]``; automatic for one epoch (an empty range)."""
    return [1, num_epochs] if num_epochs > 1 else None


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater) -> None:
    """Train ``net`` for ``num_epochs``, plotting train loss, train and test accuracy live.

    Prints one line per epoch. See the module for what differs from the book.
    """
    _check_epochs(num_epochs)
    animator = Animator(xlabel="epoch", xlim=_epoch_range(num_epochs), ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])
    with adapting():  # the thread count follows the load (shallownet.threads)
        for epoch in range(1, num_epochs + 1):
            start = time.perf_counter()
            train_loss, train_acc = train_epoch_ch3(net, train_iter, loss, updater)
            if not math.isfinite(train_loss):
                raise _diverged(epoch, train_loss, updater)
            test_acc = evaluate_accuracy(net, test_iter)
            animator.add(epoch, (train_loss, train_acc, test_acc))
            record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                      "test_acc": test_acc, "seconds": time.perf_counter() - start}
            print(format_epoch(record, num_epochs), flush=True)
    _book_checks(train_loss, train_acc, test_acc, num_epochs)


def predict_ch3(net, test_iter, n=6) -> None:
    """Show the first ``n`` test images with their true (top) and predicted (bottom) labels."""
    X, y = next(iter(test_iter))
    was_training = isinstance(net, nn.Module) and net.training
    if isinstance(net, nn.Module):
        net.eval()
    with torch.no_grad():
        predicted = net(_to(X, _device(net))).argmax(dim=1)
    if was_training:
        net.train()
    trues = get_fashion_mnist_labels(y)
    preds = get_fashion_mnist_labels(predicted)
    titles = [true + "\n" + pred for true, pred in zip(trues, preds, strict=True)]
    images = X[0:n]
    if images.ndim >= 3:
        images = images.reshape(len(images), *images.shape[-2:])
    else:  # flattened square images, e.g. (n, 784) -> (n, 28, 28)
        side = math.isqrt(images[0].numel())
        images = images.reshape(len(images), side, side)
    show_images(images, 1, n, titles=titles[0:n])


def evaluate_accuracy_gpu(net, data_iter, device=None) -> float:
    """Accuracy of ``net`` on ``data_iter``, computed on ``device`` (default: ``net``'s)."""
    return _accuracy(net, data_iter, _device(net) if device is None else device,
                     "evaluate_accuracy_gpu")


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device) -> None:
    """Train a CNN with Xavier-initialised weights, SGD at ``lr`` and cross-entropy, on ``device``.

    Plots the training loss and accuracy five times an epoch and the test
    accuracy once; prints a line per epoch and, as the book does, the final
    figures and the examples per second.
    """
    _check_epochs(num_epochs)

    def init_weights(m):
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)

    net.apply(init_weights)
    print("training on", device)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    animator = Animator(xlabel="epoch", xlim=_epoch_range(num_epochs),
                        legend=["train loss", "train acc", "test acc"])
    timer, num_batches = Timer(), len(train_iter)
    if num_batches == 0:
        raise _no_batches("train_ch6")
    every = max(1, num_batches // 5)
    with adapting():  # the thread count follows the load (shallownet.threads)
        for epoch in range(num_epochs):
            start = time.perf_counter()
            losses, correct, examples = [], [], 0
            net.train()
            timer.start()
            for i, (X, y) in enumerate(train_iter):
                keep_up()
                optimizer.zero_grad()
                X, y = X.to(device), y.to(device)
                y_hat = net(X)
                batch_loss = loss(y_hat, y)
                batch_loss.backward()
                optimizer.step()
                losses.append(batch_loss.detach() * X.shape[0])
                correct.append(count_correct(y_hat.detach(), y))
                examples += X.shape[0]
                if (i + 1) % every == 0 or i == num_batches - 1:
                    # Reading the sums waits for the device, so the timer counts finished work.
                    train_l, train_acc = _total(losses) / examples, _total(correct) / examples
                    timer.stop()
                    if not math.isfinite(train_l):
                        raise _diverged(epoch + 1, train_l, optimizer)
                    animator.add(epoch + (i + 1) / num_batches, (train_l, train_acc, None))
                    if i < num_batches - 1:
                        timer.start()
            test_acc = evaluate_accuracy_gpu(net, test_iter)
            animator.add(epoch + 1, (None, None, test_acc))
            record = {"epoch": epoch + 1, "train_loss": train_l, "train_acc": train_acc,
                      "test_acc": test_acc, "seconds": time.perf_counter() - start}
            print(format_epoch(record, num_epochs), flush=True)
    print(f"loss {train_l:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    print(f"{examples * num_epochs / timer.sum():.1f} examples/sec on {device}")
