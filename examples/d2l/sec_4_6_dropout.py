"""D2L 4.6: dropout, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch
from torch import nn

from shallownet import d2l


# %%
# Dropout from scratch: zero each element with probability `dropout` and scale the
# survivors by 1 / (1 - dropout), so the expected value is unchanged.
def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    # Everything is dropped.
    if dropout == 1:
        return torch.zeros_like(X)
    # Nothing is dropped.
    if dropout == 0:
        return X
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


# %%
# Try it with dropout probabilities 0, 0.5 and 1.
X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
print(X)
print(dropout_layer(X, 0.0))
print(dropout_layer(X, 0.5))
print(dropout_layer(X, 1.0))

# %%
# An MLP with two hidden layers of 256 units; less dropout near the input.
num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 784, 10, 256, 256

dropout1, dropout2 = 0.2, 0.5


class Net(nn.Module):
    def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2, is_training=True):
        super(Net, self).__init__()  # noqa: UP008 - the book's spelling
        self.num_inputs = num_inputs
        self.training = is_training
        self.lin1 = nn.Linear(num_inputs, num_hiddens1)
        self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
        self.lin3 = nn.Linear(num_hiddens2, num_outputs)
        self.relu = nn.ReLU()

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
        # Dropout is applied only while training.
        if self.training == True:  # noqa: E712 - the book's test
            # After the first hidden layer.
            H1 = dropout_layer(H1, dropout1)
        H2 = self.relu(self.lin2(H1))
        if self.training == True:  # noqa: E712 - the book's test
            # After the second hidden layer.
            H2 = dropout_layer(H2, dropout2)
        out = self.lin3(H2)
        return out


net = Net(num_inputs, num_outputs, num_hiddens1, num_hiddens2)

# %%
# Train the scratch version on Fashion-MNIST.
num_epochs, lr, batch_size = 10, 0.5, 256
loss = nn.CrossEntropyLoss(reduction="none")
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
trainer = torch.optim.SGD(net.parameters(), lr=lr)
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)

# %%
# The concise version: nn.Dropout layers after each hidden layer's activation.
net = nn.Sequential(
    nn.Flatten(),
    nn.Linear(784, 256),
    nn.ReLU(),
    # After the first hidden layer.
    nn.Dropout(dropout1),
    nn.Linear(256, 256),
    nn.ReLU(),
    # After the second hidden layer.
    nn.Dropout(dropout2),
    nn.Linear(256, 10),
)


def init_weights(m):
    if type(m) == nn.Linear:  # noqa: E721 - the book's test
        nn.init.normal_(m.weight, std=0.01)


net.apply(init_weights)

# %%
# Train it the same way; nn.Dropout only drops in training mode, not while evaluating.
trainer = torch.optim.SGD(net.parameters(), lr=lr)
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
