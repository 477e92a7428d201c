"""Dive-into-DL-PyTorch 3.3: concise linear regression, with shallownet's d2lzh helpers."""

# %%
# Imports. This section uses PyTorch only; no helper from the edition's package.
from collections import OrderedDict

import numpy as np
import torch
import torch.optim as optim
import torch.utils.data as Data
from torch import nn
from torch.nn import init

# %%
# The same synthetic data set as in 3.2.
num_inputs = 2
num_examples = 1000
true_w = [2, -3.4]
true_b = 4.2
features = torch.tensor(np.random.normal(0, 1, (num_examples, num_inputs)), dtype=torch.float)
labels = true_w[0] * features[:, 0] + true_w[1] * features[:, 1] + true_b
labels += torch.tensor(np.random.normal(0, 0.01, size=labels.size()), dtype=torch.float)

# %%
# A DataLoader over (features, labels), shuffled, 10 examples a batch.
batch_size = 10
dataset = Data.TensorDataset(features, labels)
data_iter = Data.DataLoader(dataset, batch_size, shuffle=True)

# %%
# The first minibatch.
for X, y in data_iter:
    print(X, y)
    break


# %%
# A model as an nn.Module subclass holding one linear layer.
class LinearNet(nn.Module):
    def __init__(self, n_feature):
        super(LinearNet, self).__init__()  # noqa: UP008 - the edition's spelling
        self.linear = nn.Linear(n_feature, 1)

    def forward(self, x):
        y = self.linear(x)
        return y


net = LinearNet(num_inputs)
print(net)

# %%
# Three ways to build the same model with nn.Sequential; the last one is kept.
net = nn.Sequential(
    nn.Linear(num_inputs, 1)
    )

net = nn.Sequential()
net.add_module('linear', nn.Linear(num_inputs, 1))

net = nn.Sequential(OrderedDict([
          ('linear', nn.Linear(num_inputs, 1))
        ]))

print(net)
print(net[0])

# %%
# Its learnable parameters.
for param in net.parameters():
    print(param)

# %%
# Initialise the weight from N(0, 0.01^2) and the bias to 0.
init.normal_(net[0].weight, mean=0, std=0.01)
init.constant_(net[0].bias, val=0)

# %%
# Mean squared error as the loss.
loss = nn.MSELoss()

# %%
# Minibatch SGD with learning rate 0.03.
optimizer = optim.SGD(net.parameters(), lr=0.03)
print(optimizer)

# %%
# Training; each epoch prints the loss of its last minibatch.
num_epochs = 3
for epoch in range(1, num_epochs + 1):
    for X, y in data_iter:
        output = net(X)
        l = loss(output, y.view(-1, 1))  # noqa: E741 - the edition's name
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
    print('epoch %d, loss: %f' % (epoch, l.item()))  # noqa: UP031

# %%
# The learned parameters next to the true ones.
dense = net[0]
print(true_w, dense.weight)
print(true_b, dense.bias)
