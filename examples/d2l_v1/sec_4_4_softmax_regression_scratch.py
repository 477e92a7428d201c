"""D2L (current edition) 4.4: softmax regression implemented from scratch.

The softmax, the model and the cross-entropy loss are written by hand on
top of ``d2l.Classifier``; Fashion-MNIST and the Trainer do the rest.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch

from shallownet import d2l

# %%
# Sums along one axis, keeping it: column sums (axis 0) and row sums (axis 1).
X = d2l.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(d2l.reduce_sum(X, 0, keepdims=True), d2l.reduce_sum(X, 1, keepdims=True))


# %%
# Softmax: exponentiate, then divide every row by its total (broadcast).
def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdims=True)
    return X_exp / partition


# %%
# Random inputs become rows of non-negative numbers that add up to 1.
X = d2l.rand((2, 5))
X_prob = softmax(X)
print(X_prob, d2l.reduce_sum(X_prob, 1))


# %%
# The parameters: a 784 x 10 weight matrix from N(0, sigma^2) and ten zero biases.
class SoftmaxRegressionScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W = torch.normal(0, sigma, size=(num_inputs, num_outputs), requires_grad=True)
        self.b = torch.zeros(num_outputs, requires_grad=True)

    def parameters(self):
        return [self.W, self.b]


# %%
# The model: flatten each image into a row, apply the affine map, then softmax.
@d2l.add_to_class(SoftmaxRegressionScratch)
def forward(self, X):
    X = d2l.reshape(X, (-1, self.W.shape[0]))
    return softmax(d2l.matmul(X, self.W) + self.b)


# %%
# Indexing picks the probability each example gives its true class.
y = d2l.tensor([0, 2])
y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
print(y_hat[[0, 1], y])


# %%
# Cross-entropy: the mean negative log of those probabilities.
def cross_entropy(y_hat, y):
    return -d2l.reduce_mean(d2l.log(y_hat[list(range(len(y_hat))), y]))


print(cross_entropy(y_hat, y))


# %%
# It becomes the model's loss.
@d2l.add_to_class(SoftmaxRegressionScratch)
def loss(self, y_hat, y):
    return cross_entropy(y_hat, y)


# %%
# Ten epochs on Fashion-MNIST in batches of 256, learning rate 0.1.
data = d2l.FashionMNIST(batch_size=256)
model = SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)

# %%
# Predicted classes for one validation batch.
X, y = next(iter(data.val_dataloader()))
preds = d2l.argmax(model(X), axis=1)
print(preds.shape)

# %%
# The images it got wrong: true class on the first line of each title, prediction below.
wrong = d2l.astype(preds, y.dtype) != y
X, y, preds = X[wrong], y[wrong], preds[wrong]
labels = [a + "\n" + b for a, b in zip(data.text_labels(y), data.text_labels(preds), strict=True)]
data.visualize([X, y], labels=labels)
