"""The scikit-learn models ``shallownet bench --against sklearn`` sets the recipes beside.

Each is named as a user would write it, and built from its class path and
keyword arguments in the measuring process (scikit-learn is imported only
there).
"""

from __future__ import annotations

__all__ = ["SKLEARN_REFERENCES"]

#: the references of ``shallownet bench --against sklearn``: name -> (estimator, kwargs)
SKLEARN_REFERENCES = {
    "LogisticRegression()": ("sklearn.linear_model.LogisticRegression", {}),
    "MLPClassifier((256,), max_iter=10)": ("sklearn.neural_network.MLPClassifier",
                                           {"hidden_layer_sizes": (256,), "max_iter": 10}),
    "MLPClassifier((256,), early_stopping=True)": ("sklearn.neural_network.MLPClassifier",
                                                   {"hidden_layer_sizes": (256,),
                                                    "early_stopping": True}),
}
