"""D2L 4.4: model selection, underfitting and overfitting, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import math

import numpy as np
import torch
from torch import nn

from shallownet import d2l

# %%
# Data from a cubic polynomial in x, written in a basis of x^i / i! up to degree 19.
max_degree = 20  # number of polynomial features (degrees 0 to 19)
n_train, n_test = 100, 100  # sizes of the training and test sets
true_w = np.zeros(max_degree)  # all weights beyond the cubic term are zero
true_w[0:4] = np.array([5, 1.2, -3.4, 5.6])

features = np.random.normal(size=(n_train + n_test, 1))
np.random.shuffle(features)
poly_features = np.power(features, np.arange(max_degree).reshape(1, -1))
for i in range(max_degree):
    poly_features[:, i] /= math.gamma(i + 1)  # gamma(n) = (n - 1)!
# labels has shape (n_train + n_test,)
labels = np.dot(poly_features, true_w)
labels += np.random.normal(scale=0.1, size=labels.shape)

# %%
# From NumPy arrays to float32 tensors.
true_w, features, poly_features, labels = [
    torch.tensor(x, dtype=torch.float32) for x in [true_w, features, poly_features, labels]
]

# %%
# The first two examples: raw feature, polynomial features, label.
print(features[:2], poly_features[:2, :], labels[:2])


# %%
# Fit a linear model (no bias: the constant feature plays that role) by minibatch SGD,
# plot its mean loss on both sets (d2l.evaluate_loss) and print the learned weights.
def train(train_features, test_features, train_labels, test_labels, num_epochs=400):
    loss = nn.MSELoss(reduction="none")
    input_shape = train_features.shape[-1]
    net = nn.Sequential(nn.Linear(input_shape, 1, bias=False))
    batch_size = min(10, train_labels.shape[0])
    train_iter = d2l.load_array((train_features, train_labels.reshape(-1, 1)), batch_size)
    test_iter = d2l.load_array(
        (test_features, test_labels.reshape(-1, 1)), batch_size, is_train=False
    )
    trainer = torch.optim.SGD(net.parameters(), lr=0.01)
    animator = d2l.Animator(
        xlabel="epoch",
        ylabel="loss",
        yscale="log",
        xlim=[1, num_epochs],
        ylim=[1e-3, 1e2],
        legend=["train", "test"],
    )
    for epoch in range(num_epochs):
        d2l.train_epoch_ch3(net, train_iter, loss, trainer)
        if epoch == 0 or (epoch + 1) % 20 == 0:
            animator.add(
                epoch + 1,
                (d2l.evaluate_loss(net, train_iter, loss), d2l.evaluate_loss(net, test_iter, loss)),
            )
    print("weight:", net[0].weight.data.numpy())


# %%
# Normal fit: the first four features (1, x, x^2/2!, x^3/3!), exactly the true model.
train(poly_features[:n_train, :4], poly_features[n_train:, :4], labels[:n_train], labels[n_train:])

# %%
# Underfitting: only the first two features (1 and x), a linear model for cubic data.
train(poly_features[:n_train, :2], poly_features[n_train:, :2], labels[:n_train], labels[n_train:])

# %%
# Overfitting: all 20 features, trained for 1500 epochs on only 100 examples.
train(
    poly_features[:n_train, :],
    poly_features[n_train:, :],
    labels[:n_train],
    labels[n_train:],
    num_epochs=1500,
)
