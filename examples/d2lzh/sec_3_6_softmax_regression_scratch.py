"""Dive-into-DL-PyTorch 3.6: softmax regression from scratch, with shallownet's d2lzh helpers."""

# %%
# Imports: the edition's helper package is replaced by shallownet's.
import numpy as np
import torch

from shallownet import d2lzh as d2l

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %%
# Each image becomes a vector of 28 * 28 = 784 inputs; there are 10 classes.
num_inputs = 784
num_outputs = 10

W = torch.tensor(np.random.normal(0, 0.01, (num_inputs, num_outputs)), dtype=torch.float)
b = torch.zeros(num_outputs, dtype=torch.float)

# %%
# Both parameters need gradients.
W.requires_grad_(requires_grad=True)
b.requires_grad_(requires_grad=True)

# %%
# Sums over one dimension, keeping it: per column (dim=0) and per row (dim=1).
X = torch.tensor([[1, 2, 3], [4, 5, 6]])
print(X.sum(dim=0, keepdim=True))
print(X.sum(dim=1, keepdim=True))


# %%
# Softmax: exponentiate, then divide each row by its sum (by broadcasting).
def softmax(X):
    X_exp = X.exp()
    partition = X_exp.sum(dim=1, keepdim=True)
    return X_exp / partition


# %%
# On random input every row becomes non-negative and sums to 1.
X = torch.rand((2, 5))
X_prob = softmax(X)
print(X_prob, X_prob.sum(dim=1))


# %%
# The model: flatten each image, apply the affine map, then softmax.
def net(X):
    return softmax(torch.mm(X.view((-1, num_inputs)), W) + b)


# %%
# gather picks, in each row of y_hat, the probability of the label in y.
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
y = torch.LongTensor([0, 2])
print(y_hat.gather(1, y.view(-1, 1)))


# %%
# Cross-entropy: minus the log of the probability given to the true label.
def cross_entropy(y_hat, y):
    return - torch.log(y_hat.gather(1, y.view(-1, 1)))


# %%
# Accuracy: the share of rows whose largest entry is at the true label.
def accuracy(y_hat, y):
    return (y_hat.argmax(dim=1) == y).float().mean().item()


print(accuracy(y_hat, y))

# %%
# The untrained model on the test set: about 0.1, the chance level for 10 classes.
print(d2l.evaluate_accuracy(test_iter, net))

# %%
# Train with minibatch SGD on [W, b] (d2l.train_ch3 is the edition's loop).
num_epochs, lr = 5, 0.1

d2l.train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, batch_size, [W, b], lr)

# %%
# Nine test images, titled by their true label (top) and the predicted one (bottom).
X, y = iter(test_iter).next()

true_labels = d2l.get_fashion_mnist_labels(y.numpy())
pred_labels = d2l.get_fashion_mnist_labels(net(X).argmax(dim=1).numpy())
titles = [true + '\n' + pred for true, pred in zip(true_labels, pred_labels)]  # noqa: B905

d2l.show_fashion_mnist(X[0:9], titles[0:9])
