# %% [markdown]
# # A CSV dataset and logistic regression (the diabetes data of the PyTorch course)
#
# Eight numeric features per patient and a 0/1 target (diabetes within five
# years). Logistic regression models $P(y=1 \mid x) = \sigma(xw + b)$ with
# $\sigma(z) = 1/(1+e^{-z})$, trained on the binary cross-entropy
# $\ell = -[y \log \sigma(z) + (1-y)\log(1-\sigma(z))]$.
#
# Set `csv_path` to your copy of `diabetes.csv` (8 feature columns, then the
# target, no header). Without one, this notebook writes a file of the same
# shape, drawn from a known logistic model so that we can see how close the
# fit gets to the truth. The generated file and the run directory go to a
# temporary directory, so nothing is left in the working directory.

# %%
import tempfile
from pathlib import Path

import numpy as np
import torch

from shallownet.registry import ModelConfig
from shallownet.training import DataSpec, RunConfig, TrainSettings, load_training_data, train_run

# %% tags=["parameters"]
csv_path = None  # None: write a diabetes-style file in a temporary directory
num_epochs = 100
batch_size = 32
lr = 0.1

# %%
workdir = Path(tempfile.mkdtemp(prefix="shallownet-diabetes-"))
if csv_path is None:
    rng = np.random.default_rng(0)
    true_w = np.array([1.5, 2.0, -0.5, 0.0, 0.3, 1.8, 0.9, 0.6])
    true_b = -0.7
    X = rng.uniform(-1, 1, size=(759, 8))
    y = (rng.uniform(size=759) < 1 / (1 + np.exp(-(X @ true_w + true_b)))).astype(int)
    rows = [",".join(f"{v:.6f}" for v in x) + f",{t}" for x, t in zip(X, y, strict=True)]
    csv_path = workdir / "diabetes-style.csv"
    csv_path.write_text("\n".join(rows) + "\n")
print(Path(csv_path).read_text().splitlines()[0])

# %% [markdown]
# ## Loading
#
# shallownet reads the CSV (detecting the header, refusing ragged rows and
# non-numbers with the line number), holds out 20% of the rows for testing
# and standardises each feature with the training part's mean and standard deviation.

# %%
data = load_training_data(DataSpec(name=str(csv_path)))
print(data.task, data.classes, len(data.train_X), "train rows,", len(data.test_X), "test rows")
print("share of 1s in the training part:", data.train_y.float().mean().item())

# %% [markdown]
# ## Logistic regression by hand

# %%
def sigmoid(z):
    return 1 / (1 + torch.exp(-z))


def bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


torch.manual_seed(0)
w = torch.normal(0, 0.01, size=(8,), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
X_train, y_train = data.train_X, data.train_y.float()
for _epoch in range(num_epochs):
    order = torch.randperm(len(X_train))
    for i in range(0, len(X_train), batch_size):
        batch = order[i : i + batch_size]
        bce(sigmoid(X_train[batch] @ w + b), y_train[batch]).mean().backward()
        with torch.no_grad():
            for param in (w, b):
                param -= lr * param.grad
                param.grad.zero_()
with torch.no_grad():
    accuracy = ((sigmoid(data.test_X @ w + b) > 0.5).long() == data.test_y).float().mean()
print(f"by hand: test accuracy {accuracy.item():.3f}")

# %% [markdown]
# ## One call: a run, as `shallownet train --model logreg --data diabetes.csv`
#
# The run directory (in the temporary directory, beside the generated CSV)
# keeps the config, the metrics of every epoch, a checkpoint, the curves and
# the confusion matrix.

# %%
config = RunConfig(model=ModelConfig(model="logreg", lr=lr),
                   data=DataSpec(name=str(csv_path)),
                   train=TrainSettings(epochs=num_epochs, batch_size=batch_size))
result = train_run(config, workdir / "run", log=False)
print({k: round(v, 3) for k, v in result.summary.items() if k.endswith(("loss", "acc"))})
print("run directory:", result.run_dir)
print("written:", sorted(p.name for p in result.run_dir.path.iterdir()))
