"""D2L (current edition) 4.5: concise implementation of softmax regression.

A flatten layer and a lazy linear layer give the scores; the classifier's
loss applies softmax and cross-entropy together, stably.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
from torch import nn
from torch.nn import functional as F

from shallownet import d2l


# %%
# The model: flatten the image, then ten scores (logits) from one linear layer.
class SoftmaxRegression(d2l.Classifier):
    """Softmax regression with built-in layers."""

    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, X):
        return self.net(X)


# %%
# The loss takes the logits: F.cross_entropy combines log-softmax and the negative
# log-likelihood without overflow (the log-sum-exp trick).
@d2l.add_to_class(d2l.Classifier)
def loss(self, Y_hat, Y, averaged=True):
    Y_hat = d2l.reshape(Y_hat, (-1, Y_hat.shape[-1]))
    Y = d2l.reshape(Y, (-1,))
    return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")


# %%
# Ten epochs on Fashion-MNIST in batches of 256, learning rate 0.1.
data = d2l.FashionMNIST(batch_size=256)
model = SoftmaxRegression(num_outputs=10, lr=0.1)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)
