# %% [markdown]
# # Accuracy per second: the book's recipe, shallownet's recipes, scikit-learn
#
# How good a Fashion-MNIST model can get, and how fast. Every model below is
# trained in this one run on the same data and machine, and each epoch's
# test accuracy is drawn against the seconds spent so far: the frontier of
# accuracy against time. The book's settings (plain SGD at lr 0.1) are the
# baseline; the recipes (`shallownet recipes`) add what fast training
# practice adds — standardised inputs, Xavier initialisation, momentum,
# a one-cycle learning-rate schedule, label smoothing, bfloat16 products
# where the CPU has them, wider layers — each chosen on a validation split
# of the training set, never on the test set; scikit-learn's classics are
# the references.

# %%
import time
import warnings

from matplotlib.figure import Figure

from shallownet.plots import show
from shallownet.recipes import RECIPES
from shallownet.registry import ModelConfig, build
from shallownet.training import DataSpec, RunConfig, Trainer, TrainSettings, load_training_data

# %% tags=["parameters"]
num_epochs = None  # None: each recipe's own epochs (the book's: 10)
max_train = None  # None: all 60,000 training images
max_test = None  # None: all 10,000 test images

# %%
spec = DataSpec(name="fashion-mnist", max_train=max_train, max_test=max_test)
epochs = {} if num_epochs is None else {"epochs": num_epochs}
runs = {  # label -> the run's config
    "book: softmax regression": RunConfig(ModelConfig(model="softmax"), spec,
                                          TrainSettings(**epochs)),
    "book: MLP 784-256-10": RunConfig(ModelConfig(model="mlp"), spec, TrainSettings(**epochs)),
    **{f"recipe {r.name}": r.config(data=spec, **epochs) for r in RECIPES.values()},
}

# %% [markdown]
# ## shallownet: the book's settings and the recipes
#
# Each run records its test accuracy after every epoch, as the book's loop
# does; nothing a recipe decides while it trains reads the test set.

# %%
curves = {}
for label, config in runs.items():
    config = config.resolved()
    data = load_training_data(config.data)
    setup = build(config.model, input_shape=data.input_shape, num_outputs=data.num_outputs,
                  seed=0)
    history = Trainer.from_config(config, log=False, progress=False,
                                  live_plot=False).fit(setup, data)
    seconds, points = 0.0, []
    for record in history:
        seconds += record["seconds"]
        points.append((seconds, record["test_acc"]))
    curves[label] = points
    print(f"{label:32s} test accuracy {points[-1][1]:.4f} after {seconds:5.1f} s")

# %% [markdown]
# ## scikit-learn, on the same images
#
# The same 784 pixels in [0, 1] per image; `fit` is timed on its own.

# %%
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

plain = load_training_data(spec)
X, y = plain.train_X.reshape(len(plain.train_X), -1).numpy(), plain.train_y.numpy()
X_test = plain.test_X.reshape(len(plain.test_X), -1).numpy()
references = {
    "LogisticRegression()": LogisticRegression(),
    "MLPClassifier((256,), max_iter=10)": MLPClassifier((256,), max_iter=10, random_state=0),
    "MLPClassifier((256,), early_stopping=True)": MLPClassifier(
        (256,), early_stopping=True, random_state=0),
}
points = {}
for name, estimator in references.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge": the references as they are used
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
    points[name] = (seconds, estimator.score(X_test, plain.test_y.numpy()))
    print(f"{name:44s} test accuracy {points[name][1]:.4f} after {seconds:5.1f} s")

# %% [markdown]
# ## The frontier
#
# Up and to the left is better. A line is one run, a marker one epoch; a
# star is a scikit-learn model at the end of its `fit`.

# %%
fig = Figure(figsize=(9, 5.5))
ax = fig.subplots()
for label, curve in curves.items():
    ax.plot(*zip(*curve, strict=True), marker="o", markersize=3,
            linestyle="--" if label.startswith("book") else "-", label=label)
for name, (seconds, accuracy) in points.items():
    ax.plot([seconds], [accuracy], marker="*", markersize=14, linestyle="none", label=name)
ax.set_xscale("log")
ax.set_xlabel("seconds of training and evaluation (log scale)")
ax.set_ylabel("test accuracy")
ax.set_title("Fashion-MNIST: test accuracy against time, one run")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize="small", loc="lower right")
show(fig, "accuracy_per_second")
