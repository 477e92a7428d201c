"""D2L (current edition) 3.4: linear regression implemented from scratch.

The model, its loss, a minibatch SGD optimiser and the training loop are
written here as pieces of classes, each added with ``d2l.add_to_class``;
they are then trained on ``d2l.SyntheticRegressionData``.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch

from shallownet import d2l


# %%
# The parameters: w drawn from N(0, sigma^2), b zero; autograd tracks both.
class LinearRegressionScratch(d2l.Module):
    """Linear regression with hand-made parameters."""

    def __init__(self, num_inputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.w = d2l.normal(0, sigma, (num_inputs, 1), requires_grad=True)
        self.b = d2l.zeros(1, requires_grad=True)


# %%
# The forward pass: X w + b (b is broadcast over the rows).
@d2l.add_to_class(LinearRegressionScratch)
def forward(self, X):
    return d2l.matmul(X, self.w) + self.b


# %%
# The loss: half the squared error, averaged over the minibatch.
@d2l.add_to_class(LinearRegressionScratch)
def loss(self, y_hat, y):
    l = (y_hat - y) ** 2 / 2
    return d2l.reduce_mean(l)


# %%
# Minibatch SGD: step moves each parameter against its gradient, zero_grad clears them.
class SGD(d2l.HyperParameters):
    """Stochastic gradient descent on a list of tensors."""

    def __init__(self, params, lr):
        self.save_hyperparameters()

    def step(self):
        for param in self.params:
            param -= self.lr * param.grad

    def zero_grad(self):
        for param in self.params:
            if param.grad is not None:
                param.grad.zero_()


# %%
# The model hands the trainer an SGD over its two tensors.
@d2l.add_to_class(LinearRegressionScratch)
def configure_optimizers(self):
    return SGD([self.w, self.b], self.lr)


# %%
# The trainer uses batches as they come (no device to move them to yet).
@d2l.add_to_class(d2l.Trainer)
def prepare_batch(self, batch):
    return batch


# %%
# One epoch: a gradient step per training batch, then the loss on every validation batch.
@d2l.add_to_class(d2l.Trainer)
def fit_epoch(self):
    self.model.train()
    for batch in self.train_dataloader:
        loss = self.model.training_step(self.prepare_batch(batch))
        self.optim.zero_grad()
        with torch.no_grad():
            loss.backward()
            if self.gradient_clip_val > 0:  # gradient clipping comes in a later chapter
                self.clip_gradients(self.gradient_clip_val, self.model)
            self.optim.step()
        self.train_batch_idx += 1
    if self.val_dataloader is None:
        return
    self.model.eval()
    for batch in self.val_dataloader:
        with torch.no_grad():
            self.model.validation_step(self.prepare_batch(batch))
        self.val_batch_idx += 1


# %%
# Data from y = X [2, -3.4]^T + 4.2 + noise; three epochs at learning rate 0.03.
model = LinearRegressionScratch(2, lr=0.03)
data = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
trainer = d2l.Trainer(max_epochs=3)
trainer.fit(model, data)

# %%
# We know the parameters that made the data, so we can see how close training got.
with torch.no_grad():
    print(f"error in estimating w: {data.w - d2l.reshape(model.w, data.w.shape)}")
    print(f"error in estimating b: {data.b - model.b}")
