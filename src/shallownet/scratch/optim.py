"""Optimisers written from their update rules.

``sgd`` is the book's function. ``SGD`` and ``Adam`` are classes with the
``step()`` / ``zero_grad()`` / ``state_dict()`` interface of ``torch.optim``,
so one training loop drives scratch and concise models alike. Like
``torch.optim`` they expect gradients of the *mean* loss over the batch.

Parameters may be given as groups, ``[{"params": [...], "weight_decay": 0.0}, ...]``,
each overriding the defaults (the registry uses this to decay weights but
not biases, as the book does).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import torch

from shallownet.errors import UsageError

__all__ = ["sgd", "Optimizer", "SGD", "Adam"]


def sgd(params: Iterable[torch.Tensor], lr: float, batch_size: int) -> None:
    """The book's minibatch SGD: ``p <- p - lr * grad / batch_size``, then ``grad <- 0``.

    ``grad`` is the gradient of the *summed* loss of the batch, so dividing
    by ``batch_size`` makes the step that of the mean loss.
    """
    params = list(params)
    for i, param in enumerate(params):
        if param.grad is None:
            raise UsageError(
                f"parameter {i} (shape {tuple(param.shape)}) has no gradient: create it with "
                "requires_grad=True and call backward() on the loss before sgd()."
            )
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


class Optimizer:
    """Parameter groups, per-parameter state and the torch-style interface."""

    def __init__(self, params, defaults: dict):
        groups = list(params)
        if not groups:
            raise UsageError("the optimiser was given no parameters to optimise.")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = defaults
        self.param_groups = []
        seen: set[int] = set()
        for group in groups:
            merged = {**defaults, **group, "params": list(group["params"])}
            self._check(merged)
            for p in merged["params"]:
                if id(p) in seen:
                    raise UsageError(
                        "a parameter appears in more than one parameter group (or twice in "
                        "one); it would be updated twice per step."
                    )
                seen.add(id(p))
            self.param_groups.append(merged)
        self.state: dict[torch.Tensor, dict] = {}

    def _check(self, group: dict) -> None:
        lr = group["lr"]
        if isinstance(lr, bool) or not (
            isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0
        ):
            raise UsageError(f"the learning rate must be a positive number, not {lr!r}.")
        if not group.get("weight_decay", 0) >= 0:
            raise UsageError(f"weight decay cannot be negative ({group['weight_decay']}).")

    def zero_grad(self) -> None:
        """Forget the gradients (``grad = None``, as ``torch.optim`` does by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, group, self.state.setdefault(p, {}))

    def _update(self, p: torch.Tensor, grad: torch.Tensor, group: dict, state: dict) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """``{"state": {index: {name: tensor}}, "param_groups": [...]}``, torch's layout."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[p] = len(index)
                ids.append(index[p])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[p]: dict(s) for p, s in self.state.items() if p in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict`."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(mine["params"])
            for g, mine in zip(groups, self.param_groups, strict=True)
        ):
            raise UsageError("the saved optimiser state is for a different set of parameters.")
        params = [p for group in self.param_groups for p in group["params"]]
        for saved, mine in zip(groups, self.param_groups, strict=True):
            mine.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {
            params[int(i)]: {
                # moments follow their parameter; the step counter stays on the CPU
                k: v.to(params[int(i)].device) if isinstance(v, torch.Tensor) and v.ndim else v
                for k, v in s.items()
            }
            for i, s in state_dict["state"].items()
        }


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay::

        g <- grad + wd * p               (weight decay: the gradient of ½ wd ||p||²)
        v <- mu * v + g                  (momentum; v = g on the first step)
        p <- p - lr * v                  (v = g when mu = 0)

    This is ``torch.optim.SGD`` without dampening or Nesterov.
    """

    def __init__(self, params, lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def _check(self, group: dict) -> None:
        super()._check(group)
        if not 0 <= group["momentum"] < 1:
            raise UsageError(f"momentum must lie in [0, 1), not {group['momentum']}.")

    def _update(self, p, grad, group, state) -> None:
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        if group["momentum"]:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.clone()
            else:
                state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
            grad = state["momentum_buffer"]
        p.add_(grad, alpha=-group["lr"])  # p - lr * grad, without a temporary


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with optional (L2) weight decay::

        g   <- grad + wd * p
        m   <- b1 m + (1 - b1) g             v <- b2 v + (1 - b2) g²
        m^  =  m / (1 - b1^t)                v^ = v / (1 - b2^t)      (bias correction)
        p   <- p - lr m^ / (sqrt(v^) + eps)

    This is ``torch.optim.Adam`` (not AdamW).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _check(self, group: dict) -> None:
        super()._check(group)
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise UsageError(f"Adam's betas must lie in [0, 1), not {group['betas']}.")
        if not group["eps"] >= 0:
            raise UsageError(f"Adam's eps cannot be negative ({group['eps']}).")

    def _update(self, p, grad, group, state) -> None:
        b1, b2 = group["betas"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = int(state["step"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(b1).add_((1 - b1) * grad)
        v.mul_(b2).add_((1 - b2) * grad * grad)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p -= group["lr"] * m_hat / (torch.sqrt(v_hat) + group["eps"])
