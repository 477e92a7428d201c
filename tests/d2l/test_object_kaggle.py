"""The current edition's 5.7 (Kaggle house prices) with the reader's own ``KaggleHouse``.

The chapter's data module, written as a reader writes it (one line changed for pandas 3,
see ``preprocess``), downloads its two CSV files with
``d2l.download(url, root, sha1_hash=...)`` from a server on 127.0.0.1, preprocesses them
with pandas, and trains ``d2l.LinearRegression`` in k folds with ``d2l.Trainer``.
"""

from __future__ import annotations

import math

import pytest
import torch

from shallownet import d2l
from tests.d2l.test_download import TEST, TRAIN, local_only, sha1  # noqa: F401 (a fixture)
from tests.httpserver import serving

pd = pytest.importorskip("pandas")


class KaggleHouse(d2l.DataModule):
    def __init__(self, batch_size, train=None, val=None):
        super().__init__()
        self.save_hyperparameters()
        if self.train is None:
            self.raw_train = pd.read_csv(d2l.download(
                d2l.DATA_URL + "kaggle_house_pred_train.csv", self.root, sha1_hash=sha1(TRAIN)))
            self.raw_val = pd.read_csv(d2l.download(
                d2l.DATA_URL + "kaggle_house_pred_test.csv", self.root, sha1_hash=sha1(TEST)))

    def preprocess(self):
        label = "SalePrice"
        features = pd.concat((self.raw_train.drop(columns=["Id", label]),
                              self.raw_val.drop(columns=["Id"])))
        # The book selects features.dtypes != 'object', which under pandas 3 (text columns of
        # dtype str) takes the text columns too; the numeric columns are these.
        numeric = features.select_dtypes("number").columns
        features[numeric] = features[numeric].apply(lambda x: (x - x.mean()) / x.std())
        features[numeric] = features[numeric].fillna(0)
        features = pd.get_dummies(features, dummy_na=True)
        self.train = features[:self.raw_train.shape[0]].copy()
        self.train[label] = self.raw_train[label]
        self.val = features[self.raw_train.shape[0]:].copy()

    def get_dataloader(self, train):
        label = "SalePrice"
        data = self.train if train else self.val
        if label not in data:
            return None
        get_tensor = lambda x: d2l.tensor(x.values.astype(float), dtype=d2l.float32)  # noqa: E731
        tensors = (get_tensor(data.drop(columns=[label])),
                   d2l.reshape(d2l.log(get_tensor(data[label])), (-1, 1)))
        return self.get_tensorloader(tensors, train)


def k_fold_data(data, k):
    rets = []
    fold_size = data.train.shape[0] // k
    for j in range(k):
        idx = range(j * fold_size, (j + 1) * fold_size)
        rets.append(KaggleHouse(data.batch_size, data.train.drop(index=idx), data.train.loc[idx]))
    return rets


def k_fold(trainer, data, k, lr):
    val_loss, models = [], []
    for i, data_fold in enumerate(k_fold_data(data, k)):
        model = d2l.LinearRegression(lr)
        model.board.yscale = "log"
        if i != 0:
            model.board.display = False
        trainer.fit(model, data_fold)
        val_loss.append(float(model.board.data["val_loss"][-1].y))
        models.append(model)
    print(f"average validation log mse = {sum(val_loss) / len(val_loss)}")
    return models


def test_the_sections_code_runs_against_a_local_server(monkeypatch, tmp_path, capsys,
                                                         figure_files):
    work = tmp_path / "chapter"
    work.mkdir()
    monkeypatch.chdir(work)  # the book's root, ../data, is tmp_path/data
    with serving(monkeypatch) as server:
        server.add("/kaggle_house_pred_train.csv", TRAIN)
        server.add("/kaggle_house_pred_test.csv", TEST)
        monkeypatch.setattr(d2l, "DATA_URL", server.url("/"))
        data = KaggleHouse(batch_size=8)
    assert (tmp_path / "data" / "kaggle_house_pred_train.csv").read_bytes() == TRAIN
    assert data.raw_train.shape == (40, 9) and data.raw_val.shape == (40, 8)
    data.preprocess()
    assert data.train.shape[0] == 40 and "SalePrice" in data.train
    assert data.get_dataloader(train=False) is None

    torch.manual_seed(0)
    trainer = d2l.Trainer(max_epochs=10)
    models = k_fold(trainer, data, k=5, lr=0.01)
    out = capsys.readouterr().out
    assert out.count("epoch 10/10") == 5
    average = float(out.rsplit("average validation log mse = ", 1)[1])
    assert math.isfinite(average)
    for model in models:  # 40 small steps at lr 0.01 only start to fit log prices near 12
        val = [p.y for p in model.board.data["val_loss"]]
        assert len(val) == 10 and val[-1] < val[0] / 2
    assert len(models) == 5 and models[0].board.renders >= 1 and models[1].board.renders == 0
