# %% [markdown]
# # Loss functions (D2L 3.1, 3.4 and 4.x)
#
# Regression: squared loss $\tfrac12(\hat{y}-y)^2$ (Gaussian noise), L1
# $|\hat{y}-y|$ (Laplace noise) and Huber, quadratic within $\delta$ of the
# target and linear beyond it:
# $\ell = \tfrac12 r^2$ if $|r| \le \delta$, else $\delta(|r| - \tfrac12\delta)$.
# Classification: the cross-entropy of softmax probabilities and, for two
# classes, of the sigmoid. Each written by hand, checked against
# shallownet's, then compared on data with outliers.

# %%
import torch

from shallownet.plots import plot_regression_losses, show
from shallownet.registry import ModelConfig, build
from shallownet.scratch import (
    binary_cross_entropy,
    cross_entropy,
    huber_loss,
    l1_loss,
    squared_loss,
)
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 3
batch_size = 10

# %% [markdown]
# ## Regression losses by hand

# %%
def my_squared(y_hat, y):
    return (y_hat - y) ** 2 / 2


def my_l1(y_hat, y):
    return (y_hat - y).abs()


def my_huber(y_hat, y, delta=1.0):
    r = (y_hat - y).abs()
    return torch.where(r <= delta, r**2 / 2, delta * (r - delta / 2))


y_hat = torch.linspace(-3, 3, 13)
y = torch.zeros(13)
for mine, theirs in ((my_squared, squared_loss), (my_l1, l1_loss), (my_huber, huber_loss)):
    torch.testing.assert_close(mine(y_hat, y), theirs(y_hat, y))
    print(f"{theirs.__name__:13s}", [round(v, 2) for v in theirs(y_hat, y).tolist()])

# %% [markdown]
# The loss, its gradient and the likelihood $e^{-\ell}$ it assumes. The
# squared loss's gradient grows with the residual, so a single outlier can
# dominate a batch; L1 and Huber bound it.

# %%
show(plot_regression_losses(3.0), "08-regression-losses")

# %% [markdown]
# ## Classification losses, and why they take logits
#
# $-\log \mathrm{softmax}(o)_y = \log\sum_k e^{o_k} - o_y$ and, for two classes,
# $-[y\log\sigma(z) + (1-y)\log(1-\sigma(z))] = \max(z,0) - zy + \log(1+e^{-|z|})$.
# The right-hand forms never overflow.

# %%
logits = torch.tensor([[2.0, 1.0, 0.1], [100.0, 0.0, -100.0]])
labels = torch.tensor([0, 2])
by_hand = -torch.log(torch.softmax(logits, 1)[range(2), labels])
print("by hand:", by_hand.tolist(), " shallownet:", cross_entropy(logits, labels).tolist())

z = torch.tensor([0.0, 5.0, -200.0])
t = torch.tensor([1.0, 0.0, 1.0])
sigma = 1 / (1 + torch.exp(-z))
by_hand = -(t * torch.log(sigma) + (1 - t) * torch.log(1 - sigma))
print("by hand:", by_hand.tolist(), " shallownet:", binary_cross_entropy(z, t).tolist())
torch.testing.assert_close(binary_cross_entropy(z[:2], t[:2]), by_hand[:2])

# %% [markdown]
# ## Outliers: the same linear regression under each loss
#
# The synthetic data $y = Xw + b + \epsilon$, with 5% of the training labels
# shifted by +20. The squared loss follows the outliers; L1 and Huber hardly
# notice them.

# %%
for loss in ("squared", "l1", "huber"):
    data = load_training_data(DataSpec(name="synthetic-linear"))
    outliers = torch.arange(0, len(data.train_y), 20)
    data.train_y[outliers] += 20.0
    setup = build(ModelConfig(model="linreg", loss=loss), input_shape=data.input_shape,
                  num_outputs=1, seed=0)
    trainer = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0, log=False, live_plot=False)
    history = trainer.fit(setup, data)
    print(f"{loss:8s} error in w {history[-1]['w_error']:.3f}, in b {history[-1]['b_error']:.3f}")
