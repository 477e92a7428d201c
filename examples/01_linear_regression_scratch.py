# %% [markdown]
# # Linear regression from scratch (D2L 3.2)
#
# The model is $\hat{y} = Xw + b$, the loss the squared loss
# $\ell = \tfrac12(\hat{y} - y)^2$, and minibatch SGD updates
# $(w, b) \leftarrow (w, b) - \tfrac{\eta}{|B|} \sum_{i \in B} \nabla \ell_i$.
# Each step is written out by hand first, then done with shallownet.

# %%
import torch
from matplotlib.figure import Figure

from shallownet.data import TRUE_B, TRUE_W, data_iter, synthetic_data
from shallownet.plots import show
from shallownet.registry import ModelConfig, build
from shallownet.scratch import linreg, sgd, squared_loss
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 3  # the book's
batch_size = 10
lr = 0.03

# %% [markdown]
# ## The data: $y = Xw + b + \epsilon$ with $w = (2, -3.4)$, $b = 4.2$, $\epsilon \sim N(0, 0.01^2)$

# %%
# By hand: features from N(0, 1), labels from the formula plus noise.
generator = torch.Generator().manual_seed(0)
true_w, true_b = torch.tensor([2.0, -3.4]), 4.2
X = torch.normal(0, 1, (1000, 2), generator=generator)
y = (X @ true_w + true_b + torch.normal(0, 0.01, (1000,), generator=generator)).reshape(-1, 1)

# The library call does the same, seeded.
features, labels = synthetic_data(TRUE_W, TRUE_B, 1000, seed=0)
print("by hand:", X.shape, y.shape, " shallownet:", features.shape, labels.shape)
print("least-squares fit of the library's data:",
      torch.linalg.lstsq(torch.cat([features, torch.ones(1000, 1)], 1), labels).solution.ravel())

# The second feature against the label: a line of slope -3.4 plus noise.
fig = Figure(figsize=(4, 3), layout="constrained")
ax = fig.subplots()
ax.scatter(features[:, 1], labels[:, 0], s=2)
ax.set_xlabel("second feature")
ax.set_ylabel("label")
show(fig, "01-synthetic-data")

# %% [markdown]
# ## Training by hand
#
# A minibatch iterator, the model, the loss and the update, each a few lines.

# %%
def my_data_iter(batch_size, features, labels):
    order = torch.randperm(len(features))
    for i in range(0, len(features), batch_size):
        batch = order[i : i + batch_size]
        yield features[batch], labels[batch]


def my_linreg(X, w, b):
    return X @ w + b


def my_squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def my_sgd(params, lr, batch_size):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


torch.manual_seed(0)
w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(num_epochs):
    for X_batch, y_batch in my_data_iter(batch_size, features, labels):
        my_squared_loss(my_linreg(X_batch, w, b), y_batch).sum().backward()
        my_sgd([w, b], lr, batch_size)
    with torch.no_grad():
        loss = my_squared_loss(my_linreg(features, w, b), labels).mean()
    print(f"epoch {epoch + 1}, loss {float(loss):f}")
print("error in w:", (torch.tensor(TRUE_W) - w.detach().reshape(-1)).tolist())
print("error in b:", TRUE_B - float(b.detach()))

# %% [markdown]
# ## The same loop with shallownet's scratch functions
#
# `data_iter`, `linreg`, `squared_loss` and `sgd` are the functions above,
# with checks on their input. They agree with the hand-written ones:

# %%
y_hat = linreg(features[:5], w.detach(), b.detach())
torch.testing.assert_close(y_hat, my_linreg(features[:5], w.detach(), b.detach()))
torch.testing.assert_close(squared_loss(y_hat, labels[:5]), my_squared_loss(y_hat, labels[:5]))

torch.manual_seed(0)
w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for epoch in range(num_epochs):
    for X_batch, y_batch in data_iter(batch_size, features, labels, seed=epoch):
        squared_loss(linreg(X_batch, w, b), y_batch).sum().backward()
        sgd([w, b], lr, batch_size)
print("w:", w.detach().reshape(-1).tolist(), "b:", float(b.detach()))

# %% [markdown]
# ## One call: the trainer
#
# `Trainer.fit` runs the epochs, evaluates on a held-out set after each one,
# reports how far $\hat{w}, \hat{b}$ are from the true values, and in Jupyter
# redraws its curves after every epoch.

# %%
data = load_training_data(DataSpec(name="synthetic-linear"))
setup = build(ModelConfig(model="linreg", lr=lr), input_shape=data.input_shape,
              num_outputs=1, seed=0)
history = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0).fit(setup, data)
