# %% [markdown]
# # Predicting house prices on Kaggle (D2L 4.10): a CSV file as it comes
#
# The house-price table mixes numbers and text, has gaps, an `Id` column
# and prices spread over orders of magnitude. The chapter's recipe:
# standardise every numeric feature, $x \leftarrow (x - \mu)/\sigma$, with the
# training rows' statistics, fill a missing number with 0 (the mean),
# one-hot encode each text column with a missing value as its own category
# (`pd.get_dummies(..., dummy_na=True)`), and score predictions on the
# logarithm of the price,
# $\sqrt{\frac1n\sum_i(\log \max(\hat y_i, 1) - \log y_i)^2}$, so that an
# error of 10% counts the same on a cheap house as on a dear one. K-fold
# cross-validation picks the settings; then one model trains on all the
# training rows and predicts.
#
# Set `csv_path` to Kaggle's `train.csv` (`Id` first, `SalePrice` last).
# Without one, this notebook writes a table of the same kind, drawn from a
# known log-linear model, to a temporary directory.

# %%
import tempfile
from pathlib import Path

import numpy as np
import torch

from shallownet.metrics import log_rmse
from shallownet.registry import ModelConfig, build
from shallownet.training import (
    DataSpec,
    RunConfig,
    Trainer,
    TrainSettings,
    cross_validate,
    load_training_data,
)

# %% tags=["parameters"]
csv_path = None  # None: write a house-price-like table in a temporary directory
num_epochs = 100
folds = 5
lr = 0.05  # Adam; the book's 5 suits prices in dollars, not log y
weight_decay = 0.0
batch_size = 64

# %%
workdir = Path(tempfile.mkdtemp(prefix="shallownet-houses-"))
if csv_path is None:
    rng = np.random.default_rng(0)
    n = 600
    zoning = rng.choice(["RL", "RM", "FV", "RH", ""], size=n, p=[0.6, 0.2, 0.1, 0.05, 0.05])
    street = rng.choice(["Pave", "Grvl", "NA"], size=n, p=[0.9, 0.05, 0.05])
    quality = rng.integers(1, 11, size=n)
    frontage = rng.normal(70, 20, size=n).clip(20, 200)
    area = rng.lognormal(9.0, 0.4, size=n)
    log_price = (10.5 + 0.12 * quality + 0.004 * frontage + 0.25 * np.log(area) / 9
                 + np.where(zoning == "FV", 0.2, 0.0) - np.where(street == "Grvl", 0.1, 0.0)
                 + rng.normal(0, 0.1, size=n))
    lines = ["Id,MSZoning,LotFrontage,LotArea,Street,OverallQual,SalePrice"]
    for i in range(n):
        lot = "" if rng.random() < 0.15 else f"{frontage[i]:.0f}"  # LotFrontage has gaps
        lines.append(f"{i + 1},{zoning[i]},{lot},{area[i]:.0f},{street[i]},{quality[i]},"
                     f"{np.exp(log_price[i]):.0f}")
    csv_path = workdir / "houses.csv"
    csv_path.write_text("\n".join(lines) + "\n")
print("\n".join(Path(csv_path).read_text().splitlines()[:4]))

# %% [markdown]
# ## Loading the table as it comes
#
# `categorical=True` one-hots the text columns (a gap is the category
# `..._nan`) and reads an empty number as missing; `drop_columns` leaves out
# the `Id`; `target_transform="log"` trains on $\log y$. Standardising
# uses the training part's statistics and then fills the gaps with 0.

# %%
spec = DataSpec(name=str(csv_path), categorical=True, drop_columns=("Id",),
                target_transform="log", test_fraction=0.2)
data = load_training_data(spec)
print(len(data.train_X), "training rows,", len(data.test_X), "test rows,",
      data.input_shape[0], "features")
print(data.details["features"])
print("missing values left:", int(torch.isnan(data.train_X).sum()))

# %% [markdown]
# ## The metric by hand
#
# A model of $\log y$ predicts $\hat y = e^{o}$; clamping $\hat y$ at 1 is
# $\max(o, 0)$ in log space. Both ways give the same number.

# %%
outputs = data.train_y[:5] + 0.1
by_hand = ((outputs.clamp(min=0) - data.train_y[:5]) ** 2).mean().sqrt().item()
in_prices = log_rmse(data.original_units(outputs), data.original_units(data.train_y[:5]))
print(f"by hand {by_hand:.6f}, in prices {in_prices:.6f}")

# %% [markdown]
# ## K-fold selection, as `shallownet train --folds 5 --metric log-rmse`
#
# Each fold standardises with its own training rows; the table prints each
# fold's train and valid log RMSE, then their averages.

# %%
config = RunConfig(
    model=ModelConfig(model="linreg", impl="concise", optimizer="adam", lr=lr,
                      weight_decay=weight_decay),
    data=spec,
    train=TrainSettings(epochs=num_epochs, batch_size=batch_size, metric="log-rmse"),
)
lines = []
summary = cross_validate(config, folds, workdir / "kfold", progress=False, plots=False,
                         log=lambda line: lines.append(line))
print("\n".join(line for line in lines if not line.startswith("fold ") or ", " in line))
print(f"mean valid log rmse {summary['val_log_rmse_mean']:.4f} "
      f"(std {summary['val_log_rmse_std']:.4f})")

# %% [markdown]
# ## Train on all the training rows and predict
#
# One model on every training row; its predictions for the held-out rows,
# back in dollars ($e^{o}$).

# %%
resolved = config.resolved()
setup = build(resolved.model, input_shape=data.input_shape, num_outputs=1, seed=0)
trainer = Trainer.from_config(resolved, progress=False, log=False, live_plot=False)
history = trainer.fit(setup, data)
print(f"train log rmse {history[-1]['train_log_rmse']:.4f}, "
      f"test log rmse {history[-1]['test_log_rmse']:.4f}")
prices = data.original_units(trainer.predict(setup, data.test_X)).reshape(-1)
actual = data.original_units(data.test_y).reshape(-1)
for predicted, true in list(zip(prices.tolist(), actual.tolist(), strict=True))[:5]:
    print(f"predicted {predicted:>10,.0f}   actual {true:>10,.0f}")
