"""Dive-into-DL-PyTorch 5.5: convolutional neural networks (LeNet), with shallownet's d2lzh
helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's. Train on the GPU
# when there is one.
import torch
from torch import nn

from shallownet import d2lzh as d2l

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')


# %%
# LeNet: two blocks of 5 x 5 convolution, sigmoid and 2 x 2 max pooling (6, then 16
# channels), then three dense layers of 120, 84 and 10 outputs.
class LeNet(nn.Module):
    def __init__(self):
        super(LeNet, self).__init__()  # noqa: UP008 - the edition's spelling
        self.conv = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.Sigmoid(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5),
            nn.Sigmoid(),
            nn.MaxPool2d(2, 2)
        )
        self.fc = nn.Sequential(
            nn.Linear(16*4*4, 120),
            nn.Sigmoid(),
            nn.Linear(120, 84),
            nn.Sigmoid(),
            nn.Linear(84, 10)
        )

    def forward(self, img):
        feature = self.conv(img)
        output = self.fc(feature.view(img.shape[0], -1))
        return output


# %%
# Its layers.
net = LeNet()
print(net)

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=batch_size)

# %%
# Adam with learning rate 0.001 for 5 epochs; d2l.train_ch5 uses cross-entropy and moves
# the model and each batch to `device`.
lr, num_epochs = 0.001, 5
optimizer = torch.optim.Adam(net.parameters(), lr=lr)
d2l.train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs)
