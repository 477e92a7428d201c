# %% [markdown]
# # Softmax regression from scratch (D2L 3.6)
#
# For an image flattened to $x \in \mathbb{R}^{784}$ the model computes the
# logits $o = xW + b$ ($W$ is 784 x 10) and the class probabilities
# $\hat{y}_j = \exp(o_j) / \sum_k \exp(o_k)$. It is trained on the
# cross-entropy $\ell = -\log \hat{y}_y$ by minibatch SGD. First everything by
# hand, then shallownet's versions of the same pieces, then one call.

# %%
import torch

from shallownet.data import ArrayLoader
from shallownet.plots import plot_prediction_gallery, show
from shallownet.registry import ModelConfig, build
from shallownet.scratch import cross_entropy, softmax
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 10  # the book's settings
batch_size = 256
lr = 0.1
max_train = None  # None: all 60,000 training images
max_test = None  # None: all 10,000 test images

# %%
data = load_training_data(DataSpec(name="fashion-mnist", max_train=max_train, max_test=max_test))
print(len(data.train_X), "training and", len(data.test_X), "test images of", data.input_shape)

# %% [markdown]
# ## Softmax by hand, and why the library's differs
#
# The formula, literally, overflows for large logits: $\exp(1000)$ is `inf`
# in float32 and `inf / inf` is `nan`. Subtracting each row's maximum first
# gives the same probabilities without overflow; shallownet's `softmax` does that.

# %%
def my_softmax(O):
    O_exp = torch.exp(O)
    return O_exp / O_exp.sum(1, keepdim=True)


O = torch.normal(0, 1, (2, 5))
torch.testing.assert_close(my_softmax(O), softmax(O))
print("rows sum to", softmax(O).sum(1).tolist())

O_large = torch.tensor([[1000.0, 0.0, -1000.0]])
print("by hand:", my_softmax(O_large).tolist(), " shallownet:", softmax(O_large).tolist())

# %% [markdown]
# ## Cross-entropy by hand, and from the logits
#
# Picking each example's probability of its true class, then $-\log$. The
# library's `cross_entropy` takes the logits and computes
# $\log \sum_k \exp(o_k) - o_y$, which stays finite where $\hat{y}_y$ underflows to 0.

# %%
def my_cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


y = torch.tensor([0, 2])
torch.testing.assert_close(my_cross_entropy(softmax(O), y), cross_entropy(O, y))
print("by hand:", my_cross_entropy(my_softmax(-O_large), torch.tensor([0])).tolist(),
      " shallownet:", cross_entropy(-O_large, torch.tensor([0])).tolist())

# %% [markdown]
# ## Training by hand

# %%
def net(X):
    return my_softmax(X.reshape(-1, W.shape[0]) @ W + b)


def accuracy(X, y):
    with torch.no_grad():
        return float((net(X).argmax(1) == y).float().mean())


torch.manual_seed(0)
W = torch.normal(0, 0.01, size=(784, 10), requires_grad=True)
b = torch.zeros(10, requires_grad=True)
print(f"before training: test accuracy {accuracy(data.test_X, data.test_y):.3f} (chance: 0.1)")

batches = ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=0)
for epoch in range(num_epochs):
    total = 0.0
    for X, y in batches:
        loss = my_cross_entropy(net(X), y)
        loss.sum().backward()
        with torch.no_grad():
            for param in (W, b):
                param -= lr * param.grad / len(y)
                param.grad.zero_()
        total += loss.sum().item()
    print(f"epoch {epoch + 1}: train loss {total / len(data.train_X):.4f}, "
          f"test accuracy {accuracy(data.test_X, data.test_y):.3f}")

# %% [markdown]
# ## One call
#
# `build` returns shallownet's scratch model (`SoftmaxRegression`: the same
# $W$ and $b$, initialised from $N(0, 0.01^2)$), the stable cross-entropy and
# the SGD above; the Trainer runs the loop with a fused step (no autograd
# graph), evaluates after every epoch and, in Jupyter, redraws its curves.

# %%
setup = build(ModelConfig(model="softmax", lr=lr), input_shape=data.input_shape,
              num_outputs=10, seed=0)
trainer = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0)
history = trainer.fit(setup, data)
print(trainer.evaluate(setup, data.test_X, data.test_y))

# %% [markdown]
# ## Predictions
#
# The first test images with the predicted class; mistakes in red, with the
# true class underneath.

# %%
images = data.test_X[:16]
predicted = setup.predict_labels(trainer.predict(setup, images))
fig = plot_prediction_gallery(images, [data.classes[int(i)] for i in data.test_y[:16]],
                              [data.classes[int(i)] for i in predicted])
show(fig, "04-softmax-gallery")
