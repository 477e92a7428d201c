"""D2L 3.6: softmax regression from scratch, with shallownet's d2l helpers."""

# %%
# Imports: the helpers come from shallownet instead of the book's d2l package.
import torch

from shallownet import d2l

# %%
# Fashion-MNIST in minibatches of 256.
batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# %%
# Parameters: each 28 x 28 image is flattened to 784 inputs; there are 10 classes.
num_inputs = 784
num_outputs = 10

W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
b = torch.zeros(num_outputs, requires_grad=True)

# %%
# Reminder: summing a matrix along columns (axis 0) or rows (axis 1), keeping the axis.
X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(X.sum(0, keepdim=True), X.sum(1, keepdim=True))


# %%
# Softmax: exponentiate, then divide each row by its sum (broadcasting does the rest).
def softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition


# %%
# Every row of the result is non-negative and sums to 1.
X = torch.normal(0, 1, (2, 5))
X_prob = softmax(X)
print(X_prob, X_prob.sum(1))


# %%
# The model: flatten each image, apply the affine map, then softmax.
def net(X):
    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)


# %%
# Picking the predicted probability of each example's true class by fancy indexing.
y = torch.tensor([0, 2])
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
print(y_hat[[0, 1], y])


# %%
# Cross-entropy: minus the log of the probability given to the true class.
def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


print(cross_entropy(y_hat, y))

# %%
# Share of correct predictions in the small example above.
print(d2l.accuracy(y_hat, y) / len(y))

# %%
# Accuracy of the untrained model on the test set: about 0.1, i.e. chance.
print(d2l.evaluate_accuracy(net, test_iter))

# %%
# Minibatch SGD on W and b as the update rule.
lr = 0.1


def updater(batch_size):
    return d2l.sgd([W, b], lr, batch_size)


# %%
# Train for 10 epochs, plotting train loss, train accuracy and test accuracy.
num_epochs = 10
d2l.train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)

# %%
# Some test images with their true label (top) and the predicted one (bottom).
d2l.predict_ch3(net, test_iter)
