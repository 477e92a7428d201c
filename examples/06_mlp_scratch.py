# %% [markdown]
# # Multilayer perceptron from scratch (D2L 4.1 and 4.2)
#
# One hidden layer of 256 units between the input and the softmax output:
# $H = \mathrm{ReLU}(XW_1 + b_1)$, $O = HW_2 + b_2$, trained on the
# cross-entropy of $\mathrm{softmax}(O)$. The activation is what makes it more
# than a linear model: without it, $O = X(W_1W_2) + (b_1W_2 + b_2)$ is linear again.

# %%
import torch
from matplotlib.figure import Figure

from shallownet.data import ArrayLoader
from shallownet.plots import show
from shallownet.registry import ModelConfig, build
from shallownet.scratch import cross_entropy, relu, sigmoid, tanh
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 10
batch_size = 256
lr = 0.1
num_hiddens = 256
max_train = None  # None: all 60,000 training images
max_test = None  # None: all 10,000 test images

# %%
data = load_training_data(DataSpec(name="fashion-mnist", max_train=max_train, max_test=max_test))

# %% [markdown]
# ## Activation functions
#
# $\mathrm{ReLU}(x) = \max(x, 0)$, $\mathrm{sigmoid}(x) = 1 / (1 + e^{-x})$,
# $\tanh(x) = (1 - e^{-2x}) / (1 + e^{-2x})$, and their derivatives by autograd.

# %%
x = torch.linspace(-8.0, 8.0, 161, requires_grad=True)
by_hand = {"relu": lambda x: torch.clamp(x, min=0),
           "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
           "tanh": lambda x: (1 - torch.exp(-2 * x)) / (1 + torch.exp(-2 * x))}
fig = Figure(figsize=(10, 3), layout="constrained")
for ax, (name, f) in zip(fig.subplots(1, 3), (("relu", relu), ("sigmoid", sigmoid),
                                              ("tanh", tanh)), strict=True):
    torch.testing.assert_close(f(x), by_hand[name](x))
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    ax.plot(x.detach(), f(x).detach(), label=name)
    ax.plot(x.detach(), grad, "--", label="derivative")
    ax.set_title(name)
    ax.grid(alpha=0.3)
    ax.legend()
show(fig, "06-activations")

# %% [markdown]
# ## Training by hand

# %%
def my_relu(X):
    return torch.max(X, torch.zeros_like(X))


def net(X):
    H = my_relu(X.reshape(-1, 784) @ W1 + b1)
    return H @ W2 + b2


torch.manual_seed(0)
W1 = torch.nn.Parameter(torch.randn(784, num_hiddens) * 0.01)
b1 = torch.nn.Parameter(torch.zeros(num_hiddens))
W2 = torch.nn.Parameter(torch.randn(num_hiddens, 10) * 0.01)
b2 = torch.nn.Parameter(torch.zeros(10))
params = [W1, b1, W2, b2]
optimizer = torch.optim.SGD(params, lr=lr)

for epoch in range(num_epochs):
    for X, y in ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=epoch):
        optimizer.zero_grad()
        cross_entropy(net(X), y).mean().backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (net(data.test_X).argmax(1) == data.test_y).float().mean().item()
    print(f"epoch {epoch + 1}: test accuracy {accuracy:.3f}")

# %% [markdown]
# ## One call
#
# `model="mlp"` builds shallownet's scratch `MLP` (any number of hidden
# layers, dropout, three activations). `backward="hand"` would train it
# with gradients derived by the chain rule instead of autograd.

# %%
setup = build(ModelConfig(model="mlp", hidden=(num_hiddens,), lr=lr),
              input_shape=data.input_shape, num_outputs=10, seed=0)
print(setup.model)
trainer = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0)
history = trainer.fit(setup, data)
