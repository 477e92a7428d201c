# %% [markdown]
# # Numerical stability and initialisation (D2L 5.4)
#
# Backpropagation multiplies one factor per layer:
# $\partial L / \partial W_l = \delta_l h_{l-1}^\top$ with
# $\delta_l = f'(z_l) \odot W_{l+1}^\top \delta_{l+1}$. Factors below 1 make the
# gradient vanish geometrically with depth, factors above 1 make it explode.
# The sigmoid's derivative is at most $\tfrac14$; the right initialisation
# keeps each layer's factor near 1; and equal weights never become different.
# Each point by hand first, then the figures of `shallownet plot gradients`.

# %%
import torch

from shallownet.plots import show
from shallownet.plots.stability import (
    plot_activations,
    plot_layer_gradients,
    plot_matrix_products,
    plot_symmetry,
    plot_vanishing_gradients,
)
from shallownet.stability import (
    activation_curves,
    fashion_mnist_batch,
    gradient_norms_by_init,
    matrix_product_norms,
    symmetry_spread,
)

# %% tags=["parameters"]
depth = 10  # hidden layers of the deep MLP
width = 256  # units per hidden layer
max_train = 2000  # training images of the symmetry epoch

# %% [markdown]
# ## Activations and their derivatives
#
# $\sigma'(x) = \sigma(x)(1 - \sigma(x)) \le \tfrac14$ and
# $\tanh'(x) = 1 - \tanh^2(x)$, checked against autograd.

# %%
x = torch.linspace(-8.0, 8.0, 161, dtype=torch.float64, requires_grad=True)
s = torch.sigmoid(x)
(by_autograd,) = torch.autograd.grad(s.sum(), x)
torch.testing.assert_close(by_autograd, s * (1 - s))
curves = activation_curves()
torch.testing.assert_close(curves["sigmoid"]["derivative"], (s * (1 - s)).detach())
torch.testing.assert_close(curves["tanh"]["derivative"], 1 - torch.tanh(x.detach()) ** 2)
print(f"sigmoid' at 0: {curves['sigmoid']['derivative'][80].item():.3f}, "
      f"at ±8: {curves['sigmoid']['derivative'][0].item():.1e}")
show(plot_activations(), "13-activations")

# %% [markdown]
# ## Vanishing: the sigmoid's gradient against ReLU's
#
# Far from 0 the sigmoid saturates and passes almost no gradient; ReLU passes
# exactly 1 for every positive input.

# %%
show(plot_vanishing_gradients(), "13-vanishing")

# %% [markdown]
# ## Exploding: a product of 100 random matrices
#
# The book's example: a 4×4 matrix of N(0, 1) entries multiplied by 100 more.
# Halving the entries' scale makes the same product vanish instead.

# %%
torch.manual_seed(0)
M = torch.normal(0, 1, size=(4, 4), dtype=torch.float64)
for _ in range(100):
    M = M @ torch.normal(0, 1, size=(4, 4), dtype=torch.float64)
print(f"by hand: the norm after 100 products is {torch.linalg.matrix_norm(M).item():.2e}")
norms = matrix_product_norms(100, scales=(1.0, 0.5))
for scale, values in norms.items():
    print(f"N(0, {scale:g}²): {values[-1].item():.2e} after 100 factors")
show(plot_matrix_products(), "13-matrix-product")

# %% [markdown]
# ## A deep MLP on Fashion-MNIST: the gradient of every layer at initialisation
#
# One batch of 256 real images through an MLP with `depth` hidden layers of
# `width` units, for each initialisation (`normal` is the book's
# $N(0, 0.01^2)$, `default` PyTorch's, `xavier`, `kaiming` = $N(0, 2/n_\mathrm{in})$)
# and each activation.

# %%
X, y = fashion_mnist_batch(max(max_train, 256))
norms = gradient_norms_by_init(X[:256], y[:256], depth=depth, width=width)
for activation, by_init in norms.items():
    for init, values in by_init.items():
        print(f"{activation:8s} {init:8s} first layer {values[0].item():.1e}, "
              f"last {values[-1].item():.1e}, ratio {(values[0] / values[-1]).item():.1e}")
show(plot_layer_gradients(norms), "13-deep-mlp")

# %% [markdown]
# ## The symmetry problem
#
# With every weight equal, every hidden unit computes the same value and
# receives the same gradient: after an epoch of SGD they are still identical.
# A random start breaks the tie.

# %%
runs = {init: symmetry_spread(X[:max_train], y[:max_train], init=init)
        for init in ("equal", "normal")}
W = runs["equal"]["weights"]
print("equal: every unit's weights the same after an epoch:",
      torch.equal(W, W[:1].expand_as(W)))
print(f"normal: spread {runs['normal']['spread'][-1].item():.3f}")
show(plot_symmetry(runs), "13-symmetry")
