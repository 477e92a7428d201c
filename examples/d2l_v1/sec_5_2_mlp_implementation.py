"""D2L (current edition) 5.2: implementation of multilayer perceptrons.

One hidden layer of 256 ReLU units, first with parameters and ReLU written
by hand, then with built-in layers; both trained on Fashion-MNIST.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch
from torch import nn

from shallownet import d2l


# %%
# The parameters, registered with the module as nn.Parameter: two weight matrices from
# N(0, sigma^2) and two zero bias vectors.
class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs))


# %%
# ReLU by hand: the elementwise maximum with a tensor of zeros.
def relu(X):
    a = torch.zeros_like(X)
    return torch.max(X, a)


# %%
# The model: flatten, hidden layer with ReLU, output layer (logits).
@d2l.add_to_class(MLPScratch)
def forward(self, X):
    X = d2l.reshape(X, (-1, self.num_inputs))
    H = relu(d2l.matmul(X, self.W1) + self.b1)
    return d2l.matmul(H, self.W2) + self.b2


# %%
# Training is the same as for softmax regression: ten epochs, batches of 256, lr 0.1.
model = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)
data = d2l.FashionMNIST(batch_size=256)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)


# %%
# The concise model: flatten, a lazy hidden layer, ReLU, a lazy output layer. The
# forward pass is inherited from d2l.Module (it calls self.net).
class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(), nn.LazyLinear(num_hiddens), nn.ReLU(), nn.LazyLinear(num_outputs)
        )


# %%
# The same trainer and data.
model = MLP(num_outputs=10, num_hiddens=256, lr=0.1)
trainer.fit(model, data)
