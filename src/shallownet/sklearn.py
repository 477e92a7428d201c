"""scikit-learn estimators over shallownet's models and trainer.

:class:`ShallowClassifier` (softmax regression, an MLP or binary logistic
regression) and :class:`ShallowRegressor` (linear regression) are thin
adapters: ``fit`` builds the model with :func:`shallownet.registry.build` and
trains it with :class:`shallownet.training.Trainer`, so they train exactly as
``shallownet train`` does. They work in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and ``clone``, and pass scikit-learn's estimator checks
except those listed by :func:`expected_failed_checks`.

Needs the optional extra: ``pip install shallownet[sklearn]`` (scikit-learn 1.6 or newer)::

    from shallownet.sklearn import ShallowClassifier
    clf = ShallowClassifier(model="mlp", hidden=(64,), random_state=0).fit(X, y)
    clf.predict_proba(X[:3])
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

try:  # absolute import: scikit-learn itself, not this module
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data
except ImportError as exc:  # missing, or older than 1.6 (no validate_data / tags API)
    raise ImportError(
        "shallownet.sklearn needs scikit-learn 1.6 or newer: pip install shallownet[sklearn] "
        f"(import failed: {exc})."
    ) from exc

from shallownet.data.tabular import Standardizer
from shallownet.registry import MODELS, ModelConfig, ModelSetup, build
from shallownet.runtime import resolve_device
from shallownet.training.data import TrainingData
from shallownet.training.evaluation import predict
from shallownet.training.trainer import Trainer

__all__ = ["ShallowClassifier", "ShallowRegressor", "expected_failed_checks"]

#: the registry's classifiers of feature tables
CLASSIFIER_MODELS = tuple(name for name, entry in MODELS.items()
                          if entry.task != "regression" and "table" in entry.kinds)
#: the registry's regression model of feature tables
REGRESSION_MODEL = next(name for name, entry in MODELS.items()
                        if entry.task == "regression" and "table" in entry.kinds)
REGRESSION_LOSSES = MODELS[REGRESSION_MODEL].losses(ModelConfig(model=REGRESSION_MODEL))
_SEED_LIMIT = 2**31 - 1


def expected_failed_checks(estimator) -> dict[str, str]:
    """scikit-learn checks ``estimator`` is known to fail, each with the reason.

    For ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``.
    Both estimators pass every check that applies to them, so the dict is empty.
    """
    return {}


class _ShallowEstimator(BaseEstimator):
    """What both estimators share: parameter checks, scaling, seeding, the Trainer call.

    Subclasses define ``__init__`` (their parameters), ``_model_config()``,
    ``_targets(y)`` and ``_task``.
    """

    _task: str  # "classification" or "regression" (TrainingData.task)

    # -- fit ------------------------------------------------------------------------------

    def _fit(self, X, y):
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name))
        if not isinstance(self.standardize, bool | np.bool_):
            raise ValueError(f"standardize must be True or False, not {self.standardize!r}.")
        fraction = self.validation_fraction
        if not (isinstance(fraction, numbers.Real) and 0 <= fraction < 1):
            raise ValueError(f"validation_fraction must lie in [0, 1), not {fraction!r}.")
        device = resolve_device(self.device)  # UsageError, a ValueError
        rng = check_random_state(self.random_state)
        init_seed, train_seed, split_seed = (int(s) for s in rng.randint(0, _SEED_LIMIT, 3))

        X, y = validate_data(self, X, y, dtype=np.float64,
                             y_numeric=self._task == "regression")
        targets = self._targets(y)  # sets classes_ / y_mean_, y_scale_
        config = self._model_config().resolved("table")  # the book's lr for a table
        X = torch.tensor(X, dtype=torch.float64)
        train_rows, val_rows = _split(len(X), float(fraction), split_seed)
        self.scaler_ = Standardizer().fit(X[train_rows]) if self.standardize else None
        features = self._scaled(X)
        data = TrainingData(
            name="the data passed to fit",
            train_X=features[train_rows], train_y=targets[train_rows],
            test_X=features[val_rows], test_y=targets[val_rows],
            task=self._task,
            classes=None if self._task == "regression" else tuple(map(str, self.classes_)),
        )
        trainer = Trainer(_as_int(self.epochs), _as_int(self.batch_size), seed=train_seed,
                          device=device, progress=False, live_plot=False,
                          log=bool(self.verbose))
        # torch.nn layers draw their (then replaced) first weights and the trainer seeds
        # dropout from torch's global generator: leave the caller's state as it was
        with torch.random.fork_rng(devices=_cuda_indices(device)):
            setup = build(config, input_shape=(X.shape[1],), num_outputs=data.num_outputs,
                          seed=init_seed, device=device)
            self.history_ = trainer.fit(setup, data,
                                        eval_name="val" if fraction > 0 else "train_eval")
        self.model_ = setup.model.eval()
        self.config_ = setup.config
        self.device_ = device
        self.n_iter_ = trainer.epochs
        self.batch_size_ = trainer.batch_size
        return self

    # -- predict --------------------------------------------------------------------------

    def _outputs(self, X) -> torch.Tensor:
        """The model's raw outputs (logits or scaled values) for ``X``, float64 on the CPU."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        features = self._scaled(torch.tensor(X, dtype=torch.float64))
        return predict(self._setup(), features, device=self.device_).cpu().double()

    def _setup(self) -> ModelSetup:
        """A :class:`ModelSetup` around the fitted model, enough to predict (no optimiser)."""
        return ModelSetup(config=self.config_, model=self.model_, loss=None, optimizer=None,
                          task=MODELS[self.config_.model].task,
                          input_shape=(self.n_features_in_,), num_outputs=self._num_outputs())

    def _scaled(self, X: torch.Tensor) -> torch.Tensor:
        """``X`` (float64) standardised with the training statistics, as float32."""
        if self.scaler_ is not None:
            X = self.scaler_.transform(X)
        X = X.float()
        if not bool(torch.isfinite(X).all()):
            raise ValueError(
                "X has values beyond the float32 range (about 3.4e38) that the model computes "
                "in; use standardize=True or rescale the features."
            )
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # on the CPU the same random_state gives the same model; GPU kernels may not
        tags.non_deterministic = str(self.device) != "cpu"
        return tags


class ShallowClassifier(ClassifierMixin, _ShallowEstimator):
    """A classifier trained by shallownet: softmax regression, an MLP or logistic regression.

    With features ``x`` (standardised by default) the models compute logits

    * ``model="softmax"``: ``o = W x + b``, ``P(y = k | x) = softmax(o)_k``;
    * ``model="mlp"``: ``h_1 = φ(W_1 x + b_1)``, ..., ``o = W_L h_(L-1) + b_L``
      (hidden widths ``hidden``, activation ``φ``, dropout after each hidden layer);
    * ``model="logreg"`` (two classes only): ``z = w·x + b``, ``P(y = classes_[1] | x) = σ(z)``;

    and minimise the mean cross-entropy ``-log P(y | x)`` (binary cross-entropy
    for ``logreg``) plus ``½ weight_decay ||W||²`` on the weights, by minibatch
    SGD (optionally with momentum) or Adam over ``epochs`` shuffled passes.
    ``softmax`` and ``mlp`` take any number of classes (at least two).

    Parameters
    ----------
    model : {"softmax", "mlp", "logreg"}, default "softmax"
    impl : {"scratch", "concise"}, default "scratch"
        From-scratch tensors and formulas, or ``torch.nn`` / ``torch.optim``.
    hidden : int or tuple of int, default (256,)
        MLP hidden layer widths.
    activation : {"relu", "sigmoid", "tanh"}, default "relu"
        MLP activation φ.
    dropout : float or tuple of float, default 0.0
        MLP dropout probability after each hidden layer (one value: all layers).
    optimizer : {"sgd", "momentum", "adam"}, default "sgd"
    lr : float, optional
        Learning rate; None takes the book's for the model on a table
        (:mod:`shallownet.defaults`: 0.1; Adam: 0.001).
    momentum : float, default 0.9
        For ``optimizer="momentum"``.
    weight_decay : float, default 0.0
        L2 penalty on the weights (not the biases).
    init : {"normal", "default", "xavier", "kaiming", "equal"}, optional
        Weight initialisation; None takes the model's default (normal(0, 0.01)).
    epochs : int, optional
        Passes over the training data; None takes the book's for the model on a
        table (:mod:`shallownet.defaults`: 10, as ``shallownet train`` on a CSV file).
    batch_size : int, optional
        Examples per minibatch (the last batch of an epoch may be smaller); None
        takes the book's for a table (32).
    standardize : bool, default True
        Train on ``(x - mean) / std`` with the mean and std of the training rows
        (stored in ``scaler_``); predictions apply the same transform.
    validation_fraction : float, default 0.0
        Share of the rows held out (at random) to report per-epoch held-out loss and
        accuracy in ``history_["val_loss"]``, ``["val_acc"]``; it does not stop
        training early. With 0 every row trains and ``history_`` reports the figures
        on the training data itself (``train_eval_loss``, ``train_eval_acc``).
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffling, dropout and the validation split:
        the same int gives the same model (on the CPU). None draws the seeds from
        numpy's global generator. Torch's global generator is left as it was.
    device : str, default "cpu"
        ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"``.
    verbose : bool or int, default False
        Print one line per epoch (loss and accuracy) when true.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, in the order of ``predict_proba``'s columns.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names (a DataFrame).
    model_ : torch.nn.Module
        The trained model (in eval mode).
    config_ : shallownet.registry.ModelConfig
        The resolved configuration (every default filled in).
    history_ : list of dict
        One record per epoch from :meth:`shallownet.training.Trainer.fit`.
    scaler_ : shallownet.data.tabular.Standardizer or None
    n_iter_ : int
        Epochs trained.

    Notes
    -----
    ``sample_weight`` is not supported. Invalid parameters raise ``ValueError``
    when ``fit`` is called; a diverging run raises
    :class:`shallownet.errors.TrainingDiverged` (lower ``lr``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallownet.sklearn import ShallowClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ShallowClassifier(epochs=50, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.score(X, y) > 0.9
    True
    """

    _task = "classification"

    def __init__(
        self,
        model: str = "softmax",
        *,
        impl: str = "scratch",
        hidden=(256,),
        activation: str = "relu",
        dropout=0.0,
        optimizer: str = "sgd",
        lr: float | None = None,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        init: str | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        standardize: bool = True,
        validation_fraction: float = 0.0,
        random_state=None,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.impl = impl
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.init = init
        self.epochs = epochs
        self.batch_size = batch_size
        self.standardize = standardize
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,) of any type.

        Returns
        -------
        self
        """
        if self.model not in CLASSIFIER_MODELS:
            raise ValueError(
                f"unknown model {self.model!r}; choose one of {', '.join(CLASSIFIER_MODELS)}."
            )
        return self._fit(X, y)

    def _targets(self, y: np.ndarray) -> torch.Tensor:
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(
                f"a classifier needs at least 2 classes in y, but it has only one class: "
                f"{self.classes_[0]!r}."
            )
        if _binary(self.model) and k != 2:  # the message scikit-learn's checks expect
            others = [m for m in CLASSIFIER_MODELS if not _binary(m)]
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{type_of_target(y, input_name='y')} ({k} classes): model={self.model!r} "
                f"separates two classes; use model={others[0]!r} (or "
                f"{', '.join(map(repr, others[1:]))}) for more."
            )
        return torch.from_numpy(codes.reshape(-1).astype(np.int64))

    def _model_config(self) -> ModelConfig:
        return ModelConfig(
            model=self.model, impl=self.impl, hidden=_as_tuple(self.hidden),
            activation=self.activation, dropout=_as_tuple(self.dropout),
            optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
            weight_decay=self.weight_decay, init=self.init,
        )

    def _num_outputs(self) -> int:
        return len(self.classes_)

    def decision_function(self, X) -> np.ndarray:
        """Logits: shape (n_samples,) for two classes (> 0 means ``classes_[1]``), else
        (n_samples, n_classes)."""
        outputs = self._outputs(X)
        if _binary(self.config_.model):  # one logit per row already
            return outputs.numpy()
        if outputs.shape[1] == 2:
            return (outputs[:, 1] - outputs[:, 0]).numpy()
        return outputs.numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        outputs = self._outputs(X)  # checks first that the estimator is fitted
        return self._setup().probabilities(outputs).numpy()

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,), as labels of ``classes_``."""
        outputs = self._outputs(X)
        codes = self._setup().predict_labels(outputs)
        return self.classes_[codes.numpy()]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = not _binary(self.model)
        return tags


class ShallowRegressor(RegressorMixin, _ShallowEstimator):
    """Linear regression ``ŷ = w·x + b`` trained by shallownet's minibatch trainer.

    Minimises the mean of the loss ``l`` over the training rows plus
    ``½ weight_decay ||w||²``, by minibatch SGD (optionally with momentum) or
    Adam over ``epochs`` shuffled passes, where for ``e = ŷ - y``:

    * ``loss="squared"``: ``l = ½ e²``;
    * ``loss="l1"``: ``l = |e|``;
    * ``loss="huber"``: ``l = ½ e²`` for ``|e| ≤ δ``, else ``δ (|e| - ½ δ)``.

    shallownet's registry has one regression model, so there is no ``model``
    parameter. Both the features and (with ``standardize_target``) the target
    are standardised for training: then one default learning rate suits any
    units, and predictions are mapped back, ``ŷ = y_mean_ + y_scale_ ẑ``.

    Parameters
    ----------
    loss : {"squared", "l1", "huber"}, default "squared"
    huber_delta : float, default 1.0
        δ of the Huber loss, in the units the model trains in (standard
        deviations of ``y`` when ``standardize_target``).
    impl : {"scratch", "concise"}, default "scratch"
    optimizer : {"sgd", "momentum", "adam"}, default "sgd"
    lr : float, optional
        Learning rate; None takes the book's for a table (0.03; Adam: 0.001).
    momentum : float, default 0.9
    weight_decay : float, default 0.0
    init : {"normal", "default", "xavier", "kaiming", "equal"}, optional
    epochs : int, optional
        None: the book's for a table (:mod:`shallownet.defaults`).
    batch_size : int, optional
        None: the book's for a table.
    standardize : bool, default True
        Standardise the features with the training rows' mean and std.
    standardize_target : bool, default True
        Train on ``(y - y_mean_) / y_scale_``; predictions are transformed back.
    validation_fraction : float, default 0.0
        As in :class:`ShallowClassifier`: held-out rows only reported in ``history_``.
    random_state : int, RandomState instance or None, default None
    device : str, default "cpu"
    verbose : bool or int, default False

    Attributes
    ----------
    n_features_in_, feature_names_in_, model_, config_, history_, scaler_, n_iter_
        As in :class:`ShallowClassifier`.
    y_mean_, y_scale_ : float
        The target's standardisation (0 and 1 without ``standardize_target``).
    coef_ : ndarray of shape (n_features_in_,)
    intercept_ : float
        ``w`` and ``b`` in the units of the original ``X`` and ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallownet.sklearn import ShallowRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> y = X @ [2.0, -3.4] + 4.2 + rng.normal(scale=0.01, size=500)
    >>> reg = ShallowRegressor(random_state=0).fit(X, y)
    >>> np.round(reg.coef_, 1), round(reg.intercept_, 1)
    (array([ 2. , -3.4]), 4.2)
    """

    _task = "regression"

    def __init__(
        self,
        loss: str = "squared",
        *,
        huber_delta: float = 1.0,
        impl: str = "scratch",
        optimizer: str = "sgd",
        lr: float | None = None,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        init: str | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        standardize: bool = True,
        standardize_target: bool = True,
        validation_fraction: float = 0.0,
        random_state=None,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.loss = loss
        self.huber_delta = huber_delta
        self.impl = impl
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.init = init
        self.epochs = epochs
        self.batch_size = batch_size
        self.standardize = standardize
        self.standardize_target = standardize_target
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and numeric targets ``y`` (n_samples,).

        Returns
        -------
        self
        """
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"unknown loss {self.loss!r}; choose one of {', '.join(REGRESSION_LOSSES)}."
            )
        if not isinstance(self.standardize_target, bool | np.bool_):
            raise ValueError(
                f"standardize_target must be True or False, not {self.standardize_target!r}."
            )
        return self._fit(X, y)

    def _targets(self, y: np.ndarray) -> torch.Tensor:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity.")
        self.y_mean_, self.y_scale_ = 0.0, 1.0
        if self.standardize_target:
            std = float(y.std())
            self.y_mean_ = float(y.mean())
            self.y_scale_ = std if std > 0 else 1.0
        z = (y - self.y_mean_) / self.y_scale_
        if not np.all(np.abs(z) < np.finfo(np.float32).max):
            raise ValueError("y has values beyond the float32 range; use standardize_target=True.")
        return torch.from_numpy(z.astype(np.float32).reshape(-1, 1))

    def _model_config(self) -> ModelConfig:
        return ModelConfig(
            model=REGRESSION_MODEL, impl=self.impl, loss=self.loss, huber_delta=self.huber_delta,
            optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
            weight_decay=self.weight_decay, init=self.init,
        )

    def _num_outputs(self) -> int:
        return 1

    def predict(self, X) -> np.ndarray:
        """Predicted values, shape (n_samples,), in the units of ``y``."""
        z = self._outputs(X).reshape(-1).numpy()
        return self.y_mean_ + self.y_scale_ * z

    @property
    def coef_(self) -> np.ndarray:
        w, _ = self._weights()
        return w

    @property
    def intercept_(self) -> float:
        _, b = self._weights()
        return b

    def _weights(self) -> tuple[np.ndarray, float]:
        """``w`` and ``b`` of ``ŷ = w·x + b`` on the original scales of ``x`` and ``y``."""
        from shallownet.training.evaluation import estimated_w_b

        check_is_fitted(self)
        w, b = (t.detach().cpu().double().numpy() for t in estimated_w_b(self.model_))
        b = float(b[0])
        if self.scaler_ is not None:  # w·(x - m)/s + b = (w/s)·x + b - (w/s)·m
            mean = self.scaler_.mean_.double().numpy()
            w = w / self.scaler_.std_.double().numpy()
            b -= float(w @ mean)
        return self.y_scale_ * w, self.y_mean_ + self.y_scale_ * b


# -- helpers ----------------------------------------------------------------------------------


def _binary(model: str) -> bool:
    """Whether the registry's ``model`` separates exactly two classes (one logit per row)."""
    return model in MODELS and MODELS[model].task == "binary"


def _as_int(value) -> int | None:
    return None if value is None else int(value)


def _check_int(name: str, value) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_) or value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}.")


def _as_tuple(value):
    """One number as a 1-tuple, a list or array as a tuple; anything else unchanged
    (ModelConfig then refuses it with a ValueError naming the field)."""
    if isinstance(value, numbers.Real):
        return (value,)
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(value.tolist() if isinstance(value, np.ndarray) else value)
    return value


def _split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and held-out row indices: every row twice when ``fraction`` is 0."""
    rows = torch.arange(n)
    if fraction == 0:
        return rows, rows
    n_val = int(np.ceil(fraction * n))
    if n - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction} of {n} rows leaves no rows to train on."
        )
    order = torch.from_numpy(np.random.RandomState(seed).permutation(n))
    return order[n_val:], order[:n_val]


def _cuda_indices(device: torch.device) -> list[int]:
    """The CUDA devices whose generator state a fit on ``device`` should restore."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]
