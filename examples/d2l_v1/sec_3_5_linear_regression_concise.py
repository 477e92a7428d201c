"""D2L (current edition) 3.5: concise implementation of linear regression.

The same model as in 3.4, with PyTorch's lazy linear layer, its mean
squared error and its SGD optimiser; the same Trainer.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch
from torch import nn

from shallownet import d2l


# %%
# One lazy linear layer with a single output: its input size is fixed by the first batch.
class LinearRegression(d2l.Module):
    """Linear regression with a built-in layer."""

    def __init__(self, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.LazyLinear(1)
        self.net.weight.data.normal_(0, 0.01)
        self.net.bias.data.fill_(0)


# %%
# The forward pass is the layer.
@d2l.add_to_class(LinearRegression)
def forward(self, X):
    return self.net(X)


# %%
# The loss: PyTorch's mean squared error (no factor 1/2).
@d2l.add_to_class(LinearRegression)
def loss(self, y_hat, y):
    fn = nn.MSELoss()
    return fn(y_hat, y)


# %%
# The optimiser: torch.optim.SGD over the layer's parameters.
@d2l.add_to_class(LinearRegression)
def configure_optimizers(self):
    return torch.optim.SGD(self.parameters(), self.lr)


# %%
# Train exactly as before: same data, three epochs.
model = LinearRegression(lr=0.03)
data = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
trainer = d2l.Trainer(max_epochs=3)
trainer.fit(model, data)


# %%
# Read the learned weight and bias from the layer.
@d2l.add_to_class(LinearRegression)
def get_w_b(self):
    return (self.net.weight.data, self.net.bias.data)


w, b = model.get_w_b()

# %%
# How far the learned parameters are from the ones that made the data.
print(f"error in estimating w: {data.w - d2l.reshape(w, data.w.shape)}")
print(f"error in estimating b: {data.b - b}")
