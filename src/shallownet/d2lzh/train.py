"""The edition's training and evaluation loops: ``evaluate_accuracy``, ``train_ch3``, ``train_ch5``.

Same signatures, steps and printed lines as the edition's, with these fixes:

- ``evaluate_accuracy(data_iter, net, device=None)`` runs a module in eval mode
  and puts it back in the mode it was in (the edition always left it in
  training mode); a plain function is called with ``is_training=False`` when
  its signature has that parameter (the edition looked for the name among
  all the function's variables, locals included); batches go to ``device``,
  by default the network's (the edition chose CUDA whenever there was one);
- the loss printed is the mean loss per example. The edition divided the
  summed figures by the number of examples, which is right for a loss per
  example (``d2l.squared_loss``, the cross-entropy of 3.6) but makes a loss
  that already averages its batch (``nn.CrossEntropyLoss()``, in 3.7, 3.10,
  3.13 and ``train_ch5``) print about 1/256 of its value (``loss 0.0031``).
  The gradient steps are the edition's: ``loss(y_hat, y).sum()`` is
  backpropagated as it wrote it;
- counts and sums stay tensors until the end of the epoch (the edition read
  every batch's figures with ``.item()``, a wait for the device each time);
- a loss that becomes nan or inf stops training with
  :class:`~shallownet.errors.TrainingDiverged`, saying what to change.
"""

from __future__ import annotations

import inspect
import math
import time

import torch
from torch import nn

from shallownet.d2l.train import _device, _no_batches, _summed, _to, _total
from shallownet.d2lzh.layers import sgd
from shallownet.errors import TrainingDiverged, UsageError
from shallownet.metrics import count_correct

__all__ = ["evaluate_accuracy", "train_ch3", "train_ch5"]


def _takes_is_training(net) -> bool:
    try:
        return "is_training" in inspect.signature(net).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no such parameter
        return False


def evaluate_accuracy(data_iter, net, device=None) -> float:
    """Accuracy of ``net`` on ``data_iter``: correct predictions / examples, without gradients.

    A module is evaluated in eval mode (dropout off) and left in its earlier
    mode; a function with an ``is_training`` parameter gets ``is_training=False``.
    """
    module = isinstance(net, nn.Module)
    if device is None:
        device = _device(net)
    was_training = module and net.training
    if module:
        net.eval()
    flag = {"is_training": False} if not module and _takes_is_training(net) else {}
    correct, examples = [], 0
    try:
        with torch.no_grad():
            for X, y in data_iter:
                X, y = _to(X, device), _to(y, device)
                correct.append(count_correct(net(X, **flag), y))
                examples += y.shape[0]
    finally:
        if was_training:
            net.train()
    if examples == 0:
        raise _no_batches("evaluate_accuracy")
    return _total(correct) / examples


def _check(num_epochs, batch_size=None) -> None:
    if not isinstance(num_epochs, int) or isinstance(num_epochs, bool) or num_epochs < 1:
        raise UsageError(f"num_epochs must be a positive integer, not {num_epochs!r}.")
    if batch_size is not None and (not isinstance(batch_size, int)
                                   or isinstance(batch_size, bool) or batch_size < 1):
        raise UsageError(f"batch_size must be a positive integer, not {batch_size!r}.")


def _diverged(epoch: int, train_loss: float, lr) -> TrainingDiverged:
    at = f" (lr {lr:g})" if isinstance(lr, (int, float)) else ""
    return TrainingDiverged(
        f"the training loss became {train_loss} in epoch {epoch}: training diverged. Lower "
        f"the learning rate{at}. If the loss takes the log of probabilities, a probability "
        "that rounds to 0 gives inf: compute the loss from the scores instead "
        "(nn.CrossEntropyLoss(reduction='none')).", epoch=epoch, step=0)


def _epoch_figures(losses, correct, examples: int, epoch: int, lr, what: str):
    """(mean loss per example, accuracy) of an epoch's per-batch sums; stops a diverged run."""
    if examples == 0:
        raise _no_batches(what)
    train_l, train_acc = _total(losses) / examples, _total(correct) / examples
    if not math.isfinite(train_l):
        raise _diverged(epoch, train_l, lr)
    return train_l, train_acc


def _optimizer_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    return groups[0].get("lr") if groups else None


def train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, params=None, lr=None,
              optimizer=None) -> None:
    """Train ``net`` for ``num_epochs``: per batch, backpropagate ``loss(net(X), y).sum()`` and
    step with ``sgd(params, lr, batch_size)`` or, when given, ``optimizer.step()``.

    Prints ``epoch N, loss L, train acc A, test acc T`` per epoch (``L`` the
    mean loss per example; see the module).
    """
    _check(num_epochs, batch_size)
    if optimizer is None and (params is None or lr is None):
        raise UsageError("train_ch3 needs params= and lr= (to step with d2l.sgd) or "
                         "optimizer= (e.g. torch.optim.SGD(net.parameters(), lr=0.1)).")
    params = None if params is None else list(params)
    device = _device(net)
    for epoch in range(1, num_epochs + 1):
        losses, correct, examples = [], [], 0
        for X, y in train_iter:
            X, y = _to(X, device), _to(y, device)
            y_hat = net(X)
            batch_loss = loss(y_hat, y)
            summed = batch_loss.sum()
            if optimizer is not None:
                optimizer.zero_grad()
            elif params is not None:
                for param in params:
                    if param.grad is not None:
                        param.grad.zero_()
            summed.backward()
            if optimizer is None:
                sgd(params, lr, batch_size)
            else:
                optimizer.step()
            losses.append(_summed(batch_loss.detach(), loss, y.shape[0]))
            correct.append(count_correct(y_hat.detach(), y))
            examples += y.shape[0]
        rate = lr if optimizer is None else _optimizer_lr(optimizer)
        train_l, train_acc = _epoch_figures(losses, correct, examples, epoch, rate, "train_ch3")
        test_acc = evaluate_accuracy(test_iter, net)
        print(f"epoch {epoch}, loss {train_l:.4f}, train acc {train_acc:.3f}, "
              f"test acc {test_acc:.3f}", flush=True)


def train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs) -> None:
    """Train the CNN ``net`` on ``device`` with cross-entropy and ``optimizer``.

    Prints ``training on  DEVICE``, then per epoch ``epoch N, loss L, train acc A,
    test acc T, time S sec`` (``L`` the mean loss per example, ``S`` the
    epoch's seconds with its test pass).
    """
    _check(num_epochs, batch_size)
    net = net.to(device)
    print("training on ", device, flush=True)
    loss = nn.CrossEntropyLoss()
    for epoch in range(1, num_epochs + 1):
        net.train()
        losses, correct, examples, start = [], [], 0, time.time()
        for X, y in train_iter:
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            batch_loss = loss(y_hat, y)
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            losses.append(batch_loss.detach() * y.shape[0])
            correct.append(count_correct(y_hat.detach(), y))
            examples += y.shape[0]
        train_l, train_acc = _epoch_figures(losses, correct, examples, epoch,
                                            _optimizer_lr(optimizer), "train_ch5")
        test_acc = evaluate_accuracy(test_iter, net)
        print(f"epoch {epoch}, loss {train_l:.4f}, train acc {train_acc:.3f}, "
              f"test acc {test_acc:.3f}, time {time.time() - start:.1f} sec", flush=True)
