"""The current edition's object API: HyperParameters, ProgressBoard, Module, DataModule, Trainer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from shallownet import d2l
from shallownet.d2l import board as board_module
from shallownet.errors import TrainingDiverged, UsageError
from tests.d2l.conftest import PNG_MAGIC, written

# --- HyperParameters and add_to_class ---------------------------------------------------------

class Saved(d2l.HyperParameters):
    def __init__(self, a, b=2, _private=3, skip=4):
        local = a + b  # a local made before the call is saved too, as in the book
        self.save_hyperparameters(ignore=["skip"])
        self.after = local


def test_save_hyperparameters_sets_each_argument():
    saved = Saved(1, b=5)
    assert (saved.a, saved.b, saved.local) == (1, 5, 6)
    assert saved.hparams == {"a": 1, "b": 5, "local": 6}
    assert not hasattr(saved, "skip") and not hasattr(saved, "_private")


def test_save_hyperparameters_ignore_may_be_one_name():
    class One(d2l.HyperParameters):
        def __init__(self, lr, name):
            self.save_hyperparameters(ignore="name")

    assert One(0.1, "x").hparams == {"lr": 0.1}


def test_a_subclass_saves_its_own_arguments_after_the_base():
    model = d2l.SoftmaxRegression(num_outputs=10, lr=0.1)
    assert model.hparams == {"num_outputs": 10, "lr": 0.1}
    assert (model.plot_train_per_epoch, model.plot_valid_per_epoch) == (2, 1)


def test_add_to_class_adds_a_method_to_existing_instances():
    class A:
        def __init__(self):
            self.b = 1

    a = A()

    @d2l.add_to_class(A)
    def do(self):
        return self.b + 1

    assert a.do() == 2 and do is None


# --- ProgressBoard ----------------------------------------------------------------------------

def test_draw_averages_every_n_values_into_a_point():
    board = d2l.ProgressBoard("x", display=False)
    for x in range(6):
        board.draw(x, 2.0 * x, "double", every_n=3)
        board.draw(x, torch.tensor(float(x)), "same")
    assert board.data["double"] == [(1.0, 2.0), (4.0, 8.0)]
    assert [p.x for p in board.data["same"]] == [0, 1, 2, 3, 4, 5]
    assert board.raw_points["double"] == [] and board.renders == 0


def test_draw_keeps_unaveraged_values_and_every_n_below_one_counts_as_one():
    board = d2l.ProgressBoard(display=False)
    board.draw(0, 1, "a", every_n=2)
    board.draw(0, 1, "b", every_n=0)
    assert board.data["a"] == [] and board.raw_points["a"] == [(0.0, 1.0)]
    assert board.data["b"] == [(0.0, 1.0)]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_board_draws_at_most_every_min_interval(monkeypatch, figure_files):
    clock = FakeClock()
    monkeypatch.setattr(board_module, "clock", clock)
    board = d2l.ProgressBoard("x")
    for i in range(100):  # 100 points over 1 s: 0.5 s apart at least, so 3 drawings
        clock.now = i / 100
        board.draw(i, i, "line")
    assert board.renders == 2
    lines = board.fig.axes[0].get_lines()
    assert len(lines[0].get_xdata()) == 51  # what was drawn last: the points up to 0.5 s
    board.flush()
    assert board.renders == 3 and len(board.fig.axes[0].get_lines()[0].get_xdata()) == 100
    board.flush()  # nothing new: no drawing
    assert board.renders == 3
    (name,) = written(figure_files)
    assert name.endswith("-board.png")
    assert (figure_files / name).read_bytes().startswith(PNG_MAGIC)


def test_a_slow_drawing_spaces_the_next_ten_times_its_cost(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(board_module, "clock", clock)
    board = d2l.ProgressBoard()

    def slow_render():
        clock.now += 0.2  # each drawing takes 0.2 s: the next may come 2 s later

    monkeypatch.setattr(board, "_render", slow_render)
    board.draw(0, 0, "a")
    for t in (0.5, 1.0, 1.5, 2.1):  # the drawing ended at 0.2 s: none before 2.2 s
        clock.now = t
        board.draw(t, t, "a")
    assert board.renders == 1
    clock.now = 2.3
    board.draw(9, 9, "a")
    assert board.renders == 2


def test_every_curve_is_drawn_with_its_label(figure_files):
    board = d2l.ProgressBoard(xlabel="x", ylabel="y", xlim=[0, 3], yscale="log")
    for k in range(6):  # more curves than line styles
        for x in range(3):
            board.draw(x, x + k + 1, f"c{k}")
    board.flush()
    axes = board.fig.axes[0]
    assert [line.get_label() for line in axes.get_lines()] == [f"c{k}" for k in range(6)]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [f"c{k}" for k in range(6)]
    assert (axes.get_xlabel(), axes.get_ylabel(), axes.get_yscale()) == ("x", "y", "log")
    assert axes.get_xlim() == (0, 3)


def test_a_board_draws_into_given_axes():
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    board = d2l.ProgressBoard(axes=right)
    board.draw(0, 1, "a")
    assert len(right.get_lines()) == 1 and not left.get_lines() and board.fig is None


# --- Module, Trainer --------------------------------------------------------------------------

class Recorder(d2l.Classifier):
    """A classifier that records the order of the trainer's calls and the mode of each step."""

    def __init__(self, log, lr=0.1):
        super().__init__()
        self.save_hyperparameters(ignore=["log"])
        self.log = log
        self.net = nn.Linear(2, 3)

    def configure_optimizers(self):
        self.log.append("configure_optimizers")
        return super().configure_optimizers()

    def training_step(self, batch):
        self.log.append(("train", self.training, torch.is_grad_enabled(), len(batch[0])))
        return super().training_step(batch)

    def validation_step(self, batch):
        self.log.append(("val", self.training, torch.is_grad_enabled(), len(batch[0])))
        super().validation_step(batch)


class Points(d2l.DataModule):
    def __init__(self, num_train=10, num_val=4, batch_size=4):
        super().__init__()
        self.save_hyperparameters()
        n = num_train + num_val
        self.X, self.y = torch.randn(n, 2), torch.randint(0, 3, (n,))

    def get_dataloader(self, train):
        i = slice(0, self.num_train) if train else slice(self.num_train, None)
        return self.get_tensorloader((self.X, self.y), train, i)


def test_fit_calls_the_steps_in_order(capsys):
    log = []
    model, data = Recorder(log), Points()
    trainer = d2l.Trainer(max_epochs=2)
    trainer.fit(model, data)
    epoch = ([("train", True, True, 4), ("train", True, True, 4), ("train", True, True, 2)]
             + [("val", False, False, 4)])
    assert log == ["configure_optimizers"] + epoch + epoch
    assert (trainer.num_train_batches, trainer.num_val_batches) == (3, 1)
    assert (trainer.train_batch_idx, trainer.val_batch_idx, trainer.epoch) == (6, 2, 1)
    assert model.trainer is trainer and trainer.model is model
    assert model.board.xlim == [0, 2] and model.board.xlabel == "epoch"
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("train loss" in line and "val loss" in line and "val acc" in line
               for line in lines)


def test_plotted_points_follow_the_books_arithmetic():
    model, data = Recorder([]), Points(num_train=16, num_val=8, batch_size=2)
    d2l.Trainer(max_epochs=2).fit(model, data)
    # 8 training batches, 2 points per epoch: each the mean of 4 batches, x = batch / 8
    assert [p.x for p in model.board.data["train_loss"]] == [0.1875, 0.6875, 1.1875, 1.6875]
    # 4 validation batches, one point per epoch at x = epoch + 1
    assert [p.x for p in model.board.data["val_acc"]] == [1, 2]
    assert all(0 <= p.y <= 1 for p in model.board.data["val_acc"])


def test_the_printed_line_is_the_mean_of_the_epochs_points(capsys):
    model, data = Recorder([]), Points(num_train=16, num_val=8, batch_size=2)
    d2l.Trainer(max_epochs=1).fit(model, data)
    train = [p.y for p in model.board.data["train_loss"]]
    line = capsys.readouterr().out
    assert f"train loss {sum(train) / 2:.4f}" in line
    assert f"val acc {model.board.data['val_acc'][0].y:.3f}" in line


def test_fit_runs_under_the_thread_policy_and_puts_the_count_back(monkeypatch, capsys):
    before = torch.get_num_threads()
    wanted = 2 if before == 1 else 1
    monkeypatch.setenv("SHALLOWNET_THREADS", str(wanted))  # fixes the policy's count
    seen = []

    class Counting(Recorder):
        def training_step(self, batch):
            seen.append(torch.get_num_threads())
            return super().training_step(batch)

        def validation_step(self, batch):
            seen.append(torch.get_num_threads())
            super().validation_step(batch)

    d2l.Trainer(max_epochs=2).fit(Counting([]), Points())
    assert seen and set(seen) == {wanted}
    assert torch.get_num_threads() == before


def test_fit_without_validation_data(capsys):
    class TrainOnly(Points):
        def val_dataloader(self):
            return None

    log = []
    trainer = d2l.Trainer(max_epochs=1)
    trainer.fit(Recorder(log), TrainOnly())
    assert trainer.num_val_batches == 0 and all(entry[0] == "train" for entry in log[1:])


def test_the_board_is_complete_when_fit_ends(monkeypatch, figure_files):
    clock = FakeClock()  # time stands still: only the first point would be drawn
    monkeypatch.setattr(board_module, "clock", clock)
    model = Recorder([])
    d2l.Trainer(max_epochs=3).fit(model, Points())
    lines = model.board.fig.axes[0].get_lines()
    drawn = {line.get_label(): len(line.get_xdata()) for line in lines}
    assert drawn == {label: len(line) for label, line in model.board.data.items()}
    assert drawn["val_acc"] == 3 and model.board.renders == 2


def test_a_diverging_loss_stops_with_advice(capsys):
    model = Recorder([], lr=1e6)
    data = Points()
    data.X[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"train loss became nan in epoch 1.*lr=1e\+06"):
        d2l.Trainer(max_epochs=5).fit(model, data)
    assert "epoch 1/5" in capsys.readouterr().out


@pytest.mark.parametrize("value", [-1, 1.5, "10", True])
def test_max_epochs_must_be_a_count(value):
    with pytest.raises(UsageError, match="max_epochs must be a non-negative integer"):
        d2l.Trainer(max_epochs=value)


def test_an_empty_training_set_is_refused():
    with pytest.raises(UsageError, match="training loader has no batches"):
        d2l.Trainer(max_epochs=1).fit(Recorder([]), Points(num_train=0))


def test_a_cpu_machine_uses_no_gpu():
    if d2l.num_gpus():
        pytest.skip("a CUDA GPU is present")
    trainer = d2l.Trainer(max_epochs=1, num_gpus=1)
    assert trainer.gpus == [] or trainer.gpus == [torch.device("mps")]
    assert trainer.prepare_batch([torch.ones(1)])[0].device.type in ("cpu", "mps")


def test_clip_gradients_rescales_to_the_joint_norm():
    net = nn.Linear(2, 1, bias=True)
    net.weight.grad = torch.tensor([[3.0, 0.0]])
    net.bias.grad = torch.tensor([4.0])  # joint norm 5
    d2l.Trainer(max_epochs=1).clip_gradients(1.0, net)
    assert torch.allclose(net.weight.grad, torch.tensor([[0.6, 0.0]]))
    assert torch.allclose(net.bias.grad, torch.tensor([0.8]))
    d2l.Trainer(max_epochs=1).clip_gradients(10.0, net)  # below the bound: unchanged
    assert torch.allclose(net.bias.grad, torch.tensor([0.8]))


def test_gradient_clip_val_is_applied_in_fit():
    norms = []

    class Watch(d2l.Trainer):
        def clip_gradients(self, grad_clip_val, model):
            super().clip_gradients(grad_clip_val, model)
            grads = [p.grad for p in model.parameters()]
            norms.append(math.sqrt(sum(float((g ** 2).sum()) for g in grads)))

    Watch(max_epochs=1, gradient_clip_val=1e-3).fit(Recorder([]), Points())
    assert len(norms) == 3 and all(n <= 1e-3 * (1 + 1e-5) for n in norms)


def test_module_errors_name_what_to_define():
    with pytest.raises(NotImplementedError, match="no self.net"):
        d2l.Module()(torch.ones(1))
    with pytest.raises(NotImplementedError, match="defines no loss"):
        d2l.Module().loss(1, 1)
    with pytest.raises(UsageError, match="Trainer"):
        d2l.Module().plot("loss", 1.0, train=True)
    with pytest.raises(NotImplementedError, match="get_dataloader"):
        d2l.DataModule().train_dataloader()


def test_apply_init_shapes_lazy_layers_then_initialises():
    model = d2l.LeNet()
    model.apply_init([torch.zeros(2, 1, 28, 28)], d2l.init_cnn)
    assert model.net[7].weight.shape == (120, 400)
    bound = math.sqrt(6 / (400 + 120))  # Xavier uniform
    assert model.net[7].weight.abs().max() <= bound and model.net[7].bias.shape == (120,)


def test_layer_summary_prints_each_layers_output_shape(capsys):
    d2l.LeNet().layer_summary((1, 1, 28, 28))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Conv2d output shape:\t torch.Size([1, 6, 28, 28])"
    assert lines[6] == "Flatten output shape:\t torch.Size([1, 400])"
    assert lines[-1] == "Linear output shape:\t torch.Size([1, 10])"
    assert len(lines) == 12


# --- SGD from scratch -------------------------------------------------------------------------

def test_sgd_steps_and_zeroes_and_takes_a_generator():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    (w ** 2).sum().backward()
    sgd = d2l.SGD((p for p in [w]), lr=0.5)
    sgd.step()
    assert torch.equal(w.detach(), torch.tensor([0.0, 0.0]))
    sgd.zero_grad()
    assert torch.equal(w.grad, torch.zeros(2))
    assert sgd.hparams["lr"] == 0.5 and sgd.params == [w]


def test_a_scratch_optimiser_may_update_in_place_inside_fit():
    class MySGD(d2l.HyperParameters):  # as a reader writes it, without torch.no_grad
        def __init__(self, params, lr):
            self.save_hyperparameters()

        def step(self):
            for param in self.params:
                param -= self.lr * param.grad

        def zero_grad(self):
            for param in self.params:
                if param.grad is not None:
                    param.grad.zero_()

    class Scratch(d2l.LinearRegressionScratch):
        def configure_optimizers(self):
            return MySGD([self.w, self.b], self.lr)

    torch.manual_seed(0)
    data = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)
    model = Scratch(2, lr=0.03)
    d2l.Trainer(max_epochs=3).fit(model, data)
    assert torch.allclose(model.w.detach().reshape(-1), torch.tensor([2, -3.4]), atol=0.2)
