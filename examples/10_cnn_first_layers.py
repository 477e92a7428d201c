# %% [markdown]
# # The first CNN layers (D2L 6.2 to 6.6)
#
# A convolution layer computes the cross-correlation
# $Y_{i,j} = b + \sum_{a,b} X_{i+a,\,j+b} K_{a,b}$. A $k \times k$ kernel with
# padding $p$ and stride $s$ turns $n$ pixels into
# $\lfloor (n + 2p - k)/s \rfloor + 1$. Pooling takes the maximum (or the mean)
# of each window. Each piece by hand, then shallownet's, then LeNet.

# %%
import torch
from torch import nn

from shallownet.registry import ModelConfig, build
from shallownet.scratch import Conv2d, conv2d, corr2d, max_pool2d, output_size
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 10
batch_size = 256
lr = 0.1
max_train = None  # None: all 60,000 training images
max_test = None  # None: all 10,000 test images

# %% [markdown]
# ## Cross-correlation by hand

# %%
def my_corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


X = torch.arange(9.0).reshape(3, 3)
K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
print(my_corr2d(X, K))
torch.testing.assert_close(corr2d(X, K), my_corr2d(X, K))
# conv2d is the fast form (windows unfolded into one matrix product), in batches and channels.
torch.testing.assert_close(conv2d(X.reshape(1, 1, 3, 3), K.reshape(1, 1, 2, 2))[0, 0], corr2d(X, K))

# %% [markdown]
# ## Detecting edges, and learning the kernel that does it
#
# The kernel $[1, -1]$ responds where neighbouring pixels differ: $+1$ at a
# white-to-black edge, $-1$ at black-to-white. Starting from a random kernel,
# gradient descent on the squared error finds it again.

# %%
X = torch.ones((6, 8))
X[:, 2:6] = 0
K = torch.tensor([[1.0, -1.0]])
Y = corr2d(X, K)
print(Y)

torch.manual_seed(0)
layer = Conv2d(1, 1, kernel_size=2)
layer.weight.data = torch.randn(1, 1, 1, 2)  # a 1 x 2 kernel
X_batch, Y_batch = X.reshape(1, 1, 6, 8), Y.reshape(1, 1, 6, 7)
for step in range(10):
    loss = ((layer(X_batch) - Y_batch) ** 2).sum()
    layer.zero_grad()
    loss.backward()
    layer.weight.data -= 3e-2 * layer.weight.grad
    if (step + 1) % 2 == 0:
        print(f"step {step + 1}, loss {loss.item():.3f}")
print("learnt kernel:", layer.weight.data.reshape(-1).tolist())

# %% [markdown]
# ## Padding, stride, channels and pooling

# %%
X = torch.rand(1, 1, 8, 8)
for kernel, padding, stride in ((3, 1, 1), (5, 2, 1), (3, 1, 2), (5, 0, 3)):
    K = torch.rand(1, 1, kernel, kernel)
    Y = conv2d(X, K, padding=padding, stride=stride)
    print(f"8 x 8, kernel {kernel}, padding {padding}, stride {stride} -> "
          f"{tuple(Y.shape[2:])}; formula: {output_size(8, kernel, padding, stride)}")
    torch.testing.assert_close(Y, nn.functional.conv2d(X, K, padding=padding, stride=stride))

# Three input channels to two output channels: each output sums over the input channels.
X = torch.rand(2, 3, 5, 5)
W = torch.rand(2, 3, 3, 3)
torch.testing.assert_close(conv2d(X, W), nn.functional.conv2d(X, W))
by_hand = sum(corr2d(X[0, c], W[1, c]) for c in range(3))
torch.testing.assert_close(conv2d(X, W)[0, 1], by_hand)

X = torch.arange(16.0).reshape(1, 1, 4, 4)
print("max pooling 2 x 2, stride 2:\n", max_pool2d(X, 2)[0, 0])

# %% [markdown]
# ## LeNet on Fashion-MNIST
#
# Two convolution and pooling stages, then three dense layers:
# `conv 5x5 (6) -> pool -> conv 5x5 (16) -> pool -> 120 -> 84 -> 10`. The
# scratch version is built from the `conv2d` above; ReLU and max pooling train
# faster at the book's learning rate than its sigmoid and average pooling.

# %%
data = load_training_data(DataSpec(name="fashion-mnist", max_train=max_train, max_test=max_test))
setup = build(ModelConfig(model="lenet", lr=lr), input_shape=data.input_shape,
              num_outputs=10, seed=0)
print(setup.model)
print(sum(p.numel() for p in setup.model.parameters()), "parameters")
history = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0).fit(setup, data)
