"""D2L (current edition) 3.7: weight decay.

A linear problem with 200 inputs and only 20 training examples overfits;
adding the squared L2 norm of the weights to the loss (from scratch), or
asking the optimiser for weight decay (concisely), keeps the weights small.
"""

# %%
# Imports. `from shallownet import d2l` stands in for `from d2l import torch as d2l`.
import torch

from shallownet import d2l


# %%
# y = 0.05 + sum_i 0.01 x_i + noise, noise ~ N(0, 0.01^2): the first num_train rows
# train, the rest validate.
class Data(d2l.DataModule):
    def __init__(self, num_train, num_val, num_inputs, batch_size):
        self.save_hyperparameters()
        n = num_train + num_val
        self.X = d2l.randn(n, num_inputs)
        noise = d2l.randn(n, 1) * 0.01
        w, b = d2l.ones((num_inputs, 1)) * 0.01, 0.05
        self.y = d2l.matmul(self.X, w) + b + noise

    def get_dataloader(self, train):
        i = slice(0, self.num_train) if train else slice(self.num_train, None)
        return self.get_tensorloader([self.X, self.y], train, i)


# %%
# The penalty: half the sum of the squared weights.
def l2_penalty(w):
    return d2l.reduce_sum(w**2) / 2


# %%
# Linear regression from scratch whose loss also pays lambd times the penalty.
class WeightDecayScratch(d2l.LinearRegressionScratch):
    def __init__(self, num_inputs, lambd, lr, sigma=0.01):
        super().__init__(num_inputs, lr, sigma)
        self.save_hyperparameters()

    def loss(self, y_hat, y):
        return super().loss(y_hat, y) + self.lambd * l2_penalty(self.w)


# %%
# 20 training and 100 validation examples in batches of 5; ten epochs per fit.
data = Data(num_train=20, num_val=100, num_inputs=200, batch_size=5)
trainer = d2l.Trainer(max_epochs=10)


def train_scratch(lambd):
    model = WeightDecayScratch(num_inputs=200, lambd=lambd, lr=0.01)
    model.board.yscale = "log"
    trainer.fit(model, data)
    with torch.no_grad():  # model.w needs grad; its norm is only read
        print("L2 norm of w:", float(l2_penalty(model.w)))


# %%
# No penalty: the training loss falls, the validation loss does not follow.
train_scratch(0)

# %%
# A strong penalty: training loss higher, validation loss lower.
train_scratch(3)


# %%
# The concise version: the optimiser decays the layer's parameters itself.
class WeightDecay(d2l.LinearRegression):
    def __init__(self, wd, lr):
        super().__init__(lr)
        self.save_hyperparameters()
        self.wd = wd

    def configure_optimizers(self):
        return torch.optim.SGD(self.net.parameters(), lr=self.lr, weight_decay=self.wd)


# %%
# Same data, same trainer, decay 3.
model = WeightDecay(wd=3, lr=0.01)
model.board.yscale = "log"
trainer.fit(model, data)
print("L2 norm of w:", float(l2_penalty(model.get_w_b()[0])))
