"""D2L (current edition) 5.6: dropout.

Dropout zeroes each hidden unit with probability p during training and
scales the survivors by 1 / (1 - p), so that each unit's expected value is
unchanged; it is written by hand, then taken from ``nn.Dropout``.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch
from torch import nn

from shallownet import d2l


# %%
# Keep each entry with probability 1 - dropout and rescale the kept ones.
def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


# %%
# Try it with probabilities 0, 0.5 and 1.
X = torch.arange(16, dtype=torch.float32).reshape((2, 8))
print("dropout_p = 0:", dropout_layer(X, 0))
print("dropout_p = 0.5:", dropout_layer(X, 0.5))
print("dropout_p = 1:", dropout_layer(X, 1))


# %%
# Two hidden ReLU layers, each followed by dropout, but only in training mode.
class DropoutMLPScratch(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens_1, num_hiddens_2, dropout_1, dropout_2, lr):
        super().__init__()
        self.save_hyperparameters()
        self.lin1 = nn.LazyLinear(num_hiddens_1)
        self.lin2 = nn.LazyLinear(num_hiddens_2)
        self.lin3 = nn.LazyLinear(num_outputs)
        self.relu = nn.ReLU()

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((X.shape[0], -1))))
        if self.training:
            H1 = dropout_layer(H1, self.dropout_1)
        H2 = self.relu(self.lin2(H1))
        if self.training:
            H2 = dropout_layer(H2, self.dropout_2)
        return self.lin3(H2)


# %%
# 256 units per hidden layer, dropout 0.5 after each; ten epochs, batches of 256, lr 0.1.
hparams = {
    "num_outputs": 10, "num_hiddens_1": 256, "num_hiddens_2": 256,
    "dropout_1": 0.5, "dropout_2": 0.5, "lr": 0.1,
}  # fmt: skip
model = DropoutMLPScratch(**hparams)
data = d2l.FashionMNIST(batch_size=256)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)


# %%
# The concise version: nn.Dropout layers, which Module.eval() turns off.
class DropoutMLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens_1, num_hiddens_2, dropout_1, dropout_2, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(), nn.LazyLinear(num_hiddens_1), nn.ReLU(), nn.Dropout(dropout_1),
            nn.LazyLinear(num_hiddens_2), nn.ReLU(), nn.Dropout(dropout_2),
            nn.LazyLinear(num_outputs),
        )  # fmt: skip


# %%
# Same settings, same trainer and data.
model = DropoutMLP(**hparams)
trainer.fit(model, data)
