"""D2L 3.3: concise linear regression with PyTorch, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch
from torch import nn

from shallownet import d2l

# %%
# The same synthetic data set as in 3.2.
true_w = torch.tensor([2, -3.4])
true_b = 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)

# %%
# A shuffling minibatch loader over the (features, labels) pair.
batch_size = 10
data_iter = d2l.load_array((features, labels), batch_size)

# %%
# One minibatch from it.
print(next(iter(data_iter)))

# %%
# The model: a single fully connected layer with two inputs and one output.
net = nn.Sequential(nn.Linear(2, 1))

# %%
# Initialise the layer in place: Gaussian weights, zero bias.
net[0].weight.data.normal_(0, 0.01)
net[0].bias.data.fill_(0)

# %%
# Mean squared error and PyTorch's minibatch SGD.
loss = nn.MSELoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.03)

# %%
# Training: three epochs, with the loss on the full data set after each.
num_epochs = 3
for epoch in range(num_epochs):
    for X, y in data_iter:
        l = loss(net(X), y)  # noqa: E741 - the book's name for the minibatch loss
        trainer.zero_grad()
        l.backward()
        trainer.step()
    l = loss(net(features), labels)  # noqa: E741
    print(f"epoch {epoch + 1}, loss {l:f}")

# %%
# Compare the learned parameters with the true ones.
w = net[0].weight.data
print("error in estimating w:", true_w - w.reshape(true_w.shape))
b = net[0].bias.data
print("error in estimating b:", true_b - b)
