# %% [markdown]
# # Linear regression, concise (D2L 3.3)
#
# The same model as in 3.2, $\hat{y} = Xw + b$ with the squared loss, built
# from `torch.nn` and trained by `torch.optim.SGD`: first the book's loop,
# then the same network from `shallownet.concise` trained by the Trainer.

# %%
import torch
from torch import nn

from shallownet.concise import linear_regression
from shallownet.data import TRUE_B, TRUE_W, load_array, synthetic_data
from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 3
batch_size = 10
lr = 0.03

# %% [markdown]
# ## The book's loop with torch.nn

# %%
features, labels = synthetic_data(TRUE_W, TRUE_B, 1000, seed=0)
data_iter = load_array((features, labels), batch_size)  # shuffled every epoch

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 1))
net[0].weight.data.normal_(0, 0.01)
net[0].bias.data.fill_(0)
loss = nn.MSELoss()  # the mean of (y_hat - y)^2, without the book's 1/2
trainer = torch.optim.SGD(net.parameters(), lr=lr)

for epoch in range(num_epochs):
    for X, y in data_iter:
        trainer.zero_grad()
        loss(net(X), y).backward()
        trainer.step()
    print(f"epoch {epoch + 1}, loss {loss(net(features), labels).item():f}")

w, b = net[0].weight.data, net[0].bias.data
print("error in w:", (torch.tensor(TRUE_W) - w.reshape(-1)).tolist())
print("error in b:", TRUE_B - float(b))

# %% [markdown]
# ## The same network from shallownet
#
# `linear_regression(2)` is `Flatten -> Linear(2, 1)`. With `impl="concise"`
# the registry pairs it with `torch.optim.SGD` and half the mean squared
# error, the book's loss; the Trainer runs the loop above and evaluates on
# held-out data after each epoch.

# %%
print(linear_regression(2))

data = load_training_data(DataSpec(name="synthetic-linear"))
setup = build(ModelConfig(model="linreg", impl="concise", lr=lr), input_shape=data.input_shape,
              num_outputs=1, seed=0)
print(setup.model, setup.loss, type(setup.optimizer).__name__, sep="\n")
history = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0).fit(setup, data)
