"""A course notebook written for ``import d2lzh1981 as d2l`` runs with only that line changed.

The course's code adds its server's directory to ``sys.path`` and loads the
data from a path that exists only there; both lines stay as they are.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import requires_real_data

#: An MLP from scratch in the course's style (its notebooks' calls and settings).
COURSE_CODE = '''
import torch
import numpy as np
import sys
sys.path.append("/home/kesci/input")
import d2lzh1981 as d2l
print(torch.__version__)

batch_size = 256
root = '/home/kesci/input/FashionMNIST2065'
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size, root=root)

num_inputs, num_outputs, num_hiddens = 784, 10, 256
W1 = torch.tensor(np.random.normal(0, 0.01, (num_inputs, num_hiddens)), dtype=torch.float)
b1 = torch.zeros(num_hiddens, dtype=torch.float)
W2 = torch.tensor(np.random.normal(0, 0.01, (num_hiddens, num_outputs)), dtype=torch.float)
b2 = torch.zeros(num_outputs, dtype=torch.float)
params = [W1, b1, W2, b2]
for param in params:
    param.requires_grad_(requires_grad=True)

def relu(X):
    return torch.max(input=X, other=torch.tensor(0.0))

def net(X):
    X = X.view((-1, num_inputs))
    H = relu(torch.matmul(X, W1) + b1)
    return torch.matmul(H, W2) + b2

loss = torch.nn.CrossEntropyLoss()
num_epochs, lr = 5, 100.0
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, batch_size, params, lr)
'''

EPOCH = re.compile(r"^epoch (\d), loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)$", re.M)


@requires_real_data
@pytest.mark.realdata
def test_the_course_code_runs_with_only_its_import_line_changed(tmp_path):
    code = COURSE_CODE.replace("import d2lzh1981 as d2l", "from shallownet import d2lzh as d2l")
    assert code.count("\n") == COURSE_CODE.count("\n")  # one line changed, nothing added
    script = tmp_path / "course.py"
    script.write_text("import random, numpy, torch; random.seed(0); numpy.random.seed(0); "
                      "torch.manual_seed(0)\n" + code)
    env = {**os.environ, "SHALLOWNET_QUICK": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    epochs = EPOCH.findall(proc.stdout)
    assert [int(e) for e, *_ in epochs] == [1, 2, 3, 4, 5], proc.stdout
    losses = [float(loss) for _, loss, _, _ in epochs]
    assert losses[-1] < losses[0] and losses[0] > 0.3  # a loss per example, not 1/256 of it
    assert float(epochs[-1][3]) > 0.6, proc.stdout  # 2,048 images, 5 epochs
    assert not os.path.exists("/home/kesci")  # nothing made at the course's path
