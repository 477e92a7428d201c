# %% [markdown]
# # Softmax regression, concise (D2L 3.7)
#
# The same model from `torch.nn`: `Flatten -> Linear(784, 10)`, trained on
# `nn.CrossEntropyLoss`, which takes the logits and applies the log-sum-exp
# trick itself, $\ell = \log \sum_k \exp(o_k) - o_y$. First the book's loop,
# then shallownet's concise tier and its Trainer.

# %%
import torch
from torch import nn

from shallownet.concise import softmax_regression
from shallownet.data import ArrayLoader
from shallownet.plots import plot_confusion_matrix, show
from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec, Trainer, load_training_data

# %% tags=["parameters"]
num_epochs = 10
batch_size = 256
lr = 0.1
max_train = None  # None: all 60,000 training images
max_test = None  # None: all 10,000 test images

# %%
data = load_training_data(DataSpec(name="fashion-mnist", max_train=max_train, max_test=max_test))

# %% [markdown]
# ## The book's loop

# %%
torch.manual_seed(0)
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
nn.init.normal_(net[1].weight, std=0.01)
loss = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=lr)

for epoch in range(num_epochs):
    for X, y in ArrayLoader(data.train_X, data.train_y, batch_size=batch_size, seed=epoch):
        optimizer.zero_grad()
        loss(net(X), y).backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (net(data.test_X).argmax(1) == data.test_y).float().mean().item()
    print(f"epoch {epoch + 1}: test accuracy {accuracy:.3f}")

# %% [markdown]
# ## The same from shallownet
#
# `softmax_regression()` is the network above. With `impl="concise"` the
# registry pairs it with `nn.CrossEntropyLoss` and `torch.optim.SGD`.

# %%
print(softmax_regression())
setup = build(ModelConfig(model="softmax", impl="concise", lr=lr),
              input_shape=data.input_shape, num_outputs=10, seed=0)
trainer = Trainer(epochs=num_epochs, batch_size=batch_size, seed=0)
history = trainer.fit(setup, data)

# %% [markdown]
# ## Which classes get confused
#
# Rows are the true class, columns the prediction; shirts, t-shirts,
# pullovers and coats are mistaken for one another most often.

# %%
result = trainer.evaluate(setup, data.test_X, data.test_y, confusion=True)
print(f"test accuracy {result['acc']:.3f}")
fig = plot_confusion_matrix(result["confusion_matrix"], data.classes,
                            title="softmax regression on the test set")
show(fig, "05-softmax-confusion")
