"""D2L 4.3: a concise multilayer perceptron with PyTorch, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch
from torch import nn

from shallownet import d2l

# %%
# The model: flatten, a hidden layer of 256 ReLU units, then 10 outputs.
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def init_weights(m):
    if type(m) == nn.Linear:  # noqa: E721 - the book's test
        nn.init.normal_(m.weight, std=0.01)


net.apply(init_weights)

# %%
# Hyper-parameters, loss and optimiser.
batch_size, lr, num_epochs = 256, 0.1, 10
loss = nn.CrossEntropyLoss(reduction="none")
trainer = torch.optim.SGD(net.parameters(), lr=lr)

# %%
# Load Fashion-MNIST and train with the loop from 3.6.
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
