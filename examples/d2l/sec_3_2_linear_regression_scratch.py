"""D2L 3.2: linear regression from scratch, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import random

import torch

from shallownet import d2l

# %%
# A synthetic data set: 1000 examples drawn from y = Xw + b plus a little noise.
true_w = torch.tensor([2, -3.4])
true_b = 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)

# %%
# One example: two features and its label.
print("features:", features[0], "\nlabel:", labels[0])

# %%
# The label against the second feature: a clear linear trend.
d2l.set_figsize()
d2l.plt.scatter(features[:, (1)].detach().numpy(), labels.detach().numpy(), 1)


# %%
# Read the data in shuffled minibatches with a hand-written generator.
def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    # Visit the examples in a random order.
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


# %%
# Look at one minibatch of ten examples.
batch_size = 10

for X, y in data_iter(batch_size, features, labels):
    print(X, "\n", y)
    break

# %%
# The parameters: small random weights and a zero bias, both tracked by autograd.
w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)

# %%
# Hyper-parameters, model and loss.
lr = 0.03
num_epochs = 3
net = d2l.linreg
loss = d2l.squared_loss

# %%
# Training: minibatch SGD, reporting the loss on the whole data set after each epoch.
for epoch in range(num_epochs):
    for X, y in data_iter(batch_size, features, labels):
        l = loss(net(X, w, b), y)  # noqa: E741 - the book's name for the minibatch loss
        # l holds one loss per example; summing gives a scalar to differentiate.
        l.sum().backward()
        d2l.sgd([w, b], lr, batch_size)  # step along the gradients
    with torch.no_grad():
        train_l = loss(net(features, w, b), labels)
        print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")

# %%
# How far the learned parameters are from the ones that generated the data.
print(f"error in estimating w: {true_w - w.reshape(true_w.shape)}")
print(f"error in estimating b: {true_b - b}")
