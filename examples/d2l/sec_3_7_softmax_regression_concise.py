"""D2L 3.7: concise softmax regression with PyTorch, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch
from torch import nn

from shallownet import d2l

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %%
# The model: nn.Linear needs flat inputs, so a Flatten layer comes first.
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def init_weights(m):
    if type(m) == nn.Linear:  # noqa: E721 - the book's test
        nn.init.normal_(m.weight, std=0.01)


net.apply(init_weights)

# %%
# Cross-entropy on raw scores (PyTorch applies log-softmax itself), one value per example.
loss = nn.CrossEntropyLoss(reduction="none")

# %%
# Minibatch SGD with learning rate 0.1.
trainer = torch.optim.SGD(net.parameters(), lr=0.1)

# %%
# Train for 10 epochs with the training loop from 3.6.
num_epochs = 10
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
