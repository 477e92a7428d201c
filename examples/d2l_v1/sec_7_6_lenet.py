"""D2L (current edition) 7.6: convolutional neural networks (LeNet).

LeNet-5: two convolution blocks (convolution, sigmoid, average pooling)
and three fully connected layers, with Xavier initialisation, trained on
Fashion-MNIST.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
from torch import nn

from shallownet import d2l


# %%
# Xavier-uniform weights for the linear and convolution layers.
def init_cnn(module):
    """Initialise the weights of a CNN's layers."""
    if type(module) is nn.Linear or type(module) is nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)


# %%
# The network: 6 then 16 channels of 5 x 5 convolutions (the first padded by 2) with
# sigmoids and 2 x 2 average pooling, then 120, 84 and num_classes units.
class LeNet(d2l.Classifier):
    """The LeNet-5 model."""

    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.LazyLinear(120), nn.Sigmoid(),
            nn.LazyLinear(84), nn.Sigmoid(),
            nn.LazyLinear(num_classes),
        )  # fmt: skip


# %%
# Push one random 28 x 28 image through the layers and print each output's shape.
@d2l.add_to_class(d2l.Classifier)
def layer_summary(self, X_shape):
    X = d2l.randn(*X_shape)
    for layer in self.net:
        X = layer(X)
        print(layer.__class__.__name__, "output shape:\t", X.shape)


model = LeNet()
model.layer_summary((1, 1, 28, 28))

# %%
# Ten epochs in batches of 128 at learning rate 0.1, on a GPU when there is one. One
# batch fixes the lazy layers' shapes before init_cnn sets their weights.
trainer = d2l.Trainer(max_epochs=10, num_gpus=1)
data = d2l.FashionMNIST(batch_size=128)
model = LeNet(lr=0.1)
model.apply_init([next(iter(data.get_dataloader(True)))[0]], init_cnn)
trainer.fit(model, data)
