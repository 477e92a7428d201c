"""Choosing hyper-parameters honestly: a search with Optuna that never sees the test set.

>>> from shallownet.tune import tune
>>> from shallownet.training import RunConfig
>>> from shallownet.registry import ModelConfig
>>> result = tune({"lr": "log:1e-3:0.5", "hidden": "choice:128,256,512"},   # doctest: +SKIP
...               RunConfig(model=ModelConfig(model="mlp")), trials=20)
>>> result.summary["best_params"], result.summary["final_test_acc"]          # doctest: +SKIP

* :mod:`shallownet.tune.space` — the distributions and the options they fit;
* :mod:`shallownet.tune.objective` — a trial: train, score on a validation split or K folds;
* :mod:`shallownet.tune.study` — the Optuna study, its database, processes sharing it;
* :mod:`shallownet.tune.report` — trial lines, ``trials.csv``, the figures;
* :mod:`shallownet.tune.search` — :func:`tune`, :func:`resume_tune`.

Needs Optuna: ``pip install 'shallownet[tune]'``.
"""

from shallownet.tune.objective import Scoring
from shallownet.tune.search import TuneResult, resume_tune, tune
from shallownet.tune.space import Param, SearchSpace, parse_param

__all__ = ["tune", "resume_tune", "TuneResult", "SearchSpace", "Param", "parse_param",
           "Scoring"]
