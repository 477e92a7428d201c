# %% [markdown]
# # Multilayer perceptron, concise (D2L 4.3, with dropout from 4.6)
#
# `Flatten -> Linear(784, 256) -> ReLU -> Linear(256, 10)` from `torch.nn`.
# Dropout zeroes each hidden unit with probability $p$ while training and
# scales the survivors by $1/(1-p)$, so the expected activation is unchanged:
# $E[h'] = (1-p) \cdot h/(1-p) = h$. At test time it does nothing.

# %%
import torch
from torch import nn

from shallownet.concise import mlp
from shallownet.data import ArrayLoader
from shallownet.registry import ModelConfig, build
from shallownet.scratch import dropout_layer
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 10
batch_size = 256
lr = 0.1
dropout = 0.2
max_train = None  # None: all 60,000 training images
max_test = None  # None: all 10,000 test images

# %%
data = load_training_data(DataSpec(name="fashion-mnist", max_train=max_train, max_test=max_test))

# %% [markdown]
# ## Dropout by hand

# %%
def my_dropout(X, p):
    if p == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > p).float()
    return mask * X / (1.0 - p)


X = torch.ones(10000)
print("kept by hand:", (my_dropout(X, 0.5) > 0).float().mean().item(),
      " by shallownet:", (dropout_layer(X, 0.5) > 0).float().mean().item())
print("mean activation after dropout (p = 0.5):", dropout_layer(X, 0.5).mean().item())

# %% [markdown]
# ## The book's loop

# %%
torch.manual_seed(0)
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(dropout),
                    nn.Linear(256, 10))
for layer in net:
    if isinstance(layer, nn.Linear):
        nn.init.normal_(layer.weight, std=0.01)
loss = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=lr)

for epoch in range(num_epochs):
    net.train()
    for X, y in ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=epoch):
        optimizer.zero_grad()
        loss(net(X), y).backward()
        optimizer.step()
    net.eval()  # dropout off
    with torch.no_grad():
        accuracy = (net(data.test_X).argmax(1) == data.test_y).float().mean().item()
    print(f"epoch {epoch + 1}: test accuracy {accuracy:.3f}")

# %% [markdown]
# ## The same from shallownet
#
# `mlp(784, 10, (256,), dropout=p)` is that network; the Trainer switches
# dropout on for training and off for evaluation, and seeds it epoch by epoch
# so that a run gives the same figures every time.

# %%
print(mlp(784, 10, (256,), dropout=dropout))
setup = build(ModelConfig(model="mlp", impl="concise", hidden=(256,), dropout=(dropout,), lr=lr),
              input_shape=data.input_shape, num_outputs=10, seed=0)
trainer = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0)
history = trainer.fit(setup, data)
print(f"train accuracy {history[-1]['train_acc']:.3f}, test accuracy {history[-1]['test_acc']:.3f}")
