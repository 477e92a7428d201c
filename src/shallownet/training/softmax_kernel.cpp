// One SGD step of softmax regression, fused: gather, forward, softmax, gradient, update.
//
// For a batch of n rows x_r of X (picked by `rows`, or X itself when `rows`
// is empty), labels y_r, weights W (k inputs by P = 8 V padded outputs,
// row-major: W[i] holds input i's weight to every output) and bias b:
//
//     o_r = b + x_r W                      (the logits; the first q are real)
//     g_r = softmax(o_r[:q]) - onehot(y_r)  (g_r = 0 past q)
//     W  <- decay W - (lr / n) sum_r x_rᵀ g_r
//     b  <- b - (lr / n) sum_r g_r
//
// which is what autograd and SGD compute for the batch's mean cross-entropy
// (see shallownet/training/fused.py). The rows are split into fixed chunks of
// CHUNK, each with its own gradient accumulator, summed in chunk order: the
// result does not depend on the number of threads. Within a chunk, B rows at
// a time share every load of W (forward) and of the accumulator (gradient),
// with each row's P logits or gradients held in V 8-float vector registers,
// and the next B rows are prefetched from memory while the forward pass runs
// (a step gathers its rows from all over the dataset; without the prefetch
// the cores wait on memory about a fifth of the time).
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

typedef float v8 __attribute__((vector_size(32)));
constexpr int64_t CHUNK = 128;

inline v8 load8(const float* p) { v8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
inline void store8(float* p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }
inline v8 splat(float s) { return v8{s, s, s, s, s, s, s, s}; }

// B rows x[0..B): logits into out, gradient into acc (k by 8V) and gb (8V);
// the nnext rows next[] are prefetched. Returns false when a label is outside [0, q).
template <int V, int B>
bool rows_step(const float* const* x, const int64_t* y, int64_t k, int q, const float* W,
               const float* b, float* out, int64_t out_stride, float* acc, float* gb,
               const float* const* next, int nnext) {
  constexpr int P = 8 * V;
  v8 z[B][V];
  for (int r = 0; r < B; ++r)
    for (int v = 0; v < V; ++v) z[r][v] = load8(b + 8 * v);
  for (int64_t i = 0; i < k; ++i) {
    if ((i & 15) == 0)  // one prefetch per 64-byte line of each next row
      for (int t = 0; t < nnext; ++t) __builtin_prefetch(next[t] + i);
    v8 w[V];
    for (int v = 0; v < V; ++v) w[v] = load8(W + i * P + 8 * v);
    for (int r = 0; r < B; ++r) {
      const v8 xi = splat(x[r][i]);
      for (int v = 0; v < V; ++v) z[r][v] += xi * w[v];
    }
  }
  v8 g[B][V];
  for (int r = 0; r < B; ++r) {
    if (y[r] < 0 || y[r] >= q) return false;
    float o[P], p[P];
    for (int v = 0; v < V; ++v) store8(o + 8 * v, z[r][v]);
    float m = o[0];
    for (int j = 1; j < q; ++j) m = std::max(m, o[j]);
    float s = 0.f;
    for (int j = 0; j < q; ++j) {
      out[r * out_stride + j] = o[j];
      p[j] = std::exp(o[j] - m);
      s += p[j];
    }
    for (int j = 0; j < q; ++j) p[j] /= s;
    for (int j = q; j < P; ++j) p[j] = 0.f;
    p[y[r]] -= 1.f;
    for (int j = 0; j < P; ++j) gb[j] += p[j];
    for (int v = 0; v < V; ++v) g[r][v] = load8(p + 8 * v);
  }
  for (int64_t i = 0; i < k; ++i) {
    v8 a[V];
    for (int v = 0; v < V; ++v) a[v] = load8(acc + i * P + 8 * v);
    for (int r = 0; r < B; ++r) {
      const v8 xi = splat(x[r][i]);
      for (int v = 0; v < V; ++v) a[v] += xi * g[r][v];
    }
    for (int v = 0; v < V; ++v) store8(acc + i * P + 8 * v, a[v]);
  }
  return true;
}

template <int V, int B>
void step(const torch::Tensor& X, const torch::Tensor& y, const torch::Tensor& rows,
          torch::Tensor& W, torch::Tensor& b, torch::Tensor& out, double lr, double decay) {
  constexpr int P = 8 * V;
  const int64_t k = X.size(1);
  const bool gather = rows.numel() > 0;
  const int64_t n = gather ? rows.numel() : X.size(0);
  const int q = static_cast<int>(out.size(1));
  const int64_t chunks = (n + CHUNK - 1) / CHUNK, span = k * P + P;
  std::vector<float> acc(chunks * span, 0.f);
  const float* Xp = X.data_ptr<float>();
  const int64_t* yp = y.data_ptr<int64_t>();
  const int64_t* rp = gather ? rows.data_ptr<int64_t>() : nullptr;
  float* Wp = W.data_ptr<float>();
  float* bp = b.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t os = out.stride(0), N = X.size(0);
  std::atomic<bool> bad_row{false}, bad_label{false};
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* a = acc.data() + c * span;
      const int64_t stop = std::min(n, (c + 1) * CHUNK);
      const float* x[B];
      const float* nx[B];
      int64_t labels[B];
      for (int64_t r = c * CHUNK; r < stop;) {
        const int count = static_cast<int>(std::min<int64_t>(B, stop - r));
        for (int t = 0; t < count; ++t) {
          const int64_t row = gather ? rp[r + t] : r + t;
          if (row < 0 || row >= N) { bad_row = true; return; }
          x[t] = Xp + row * k;
          labels[t] = yp[row];
        }
        const int64_t after = r + count;
        const int nnext = static_cast<int>(std::min<int64_t>(B, stop - after));
        for (int t = 0; t < nnext; ++t) {
          const int64_t row = gather ? rp[after + t] : after + t;
          nx[t] = Xp + ((row < 0 || row >= N) ? 0 : row) * k;
        }
        const bool ok = count == B
            ? rows_step<V, B>(x, labels, k, q, Wp, bp, op + r * os, os, a, a + k * P, nx, nnext)
            : rows_step<V, 1>(x, labels, k, q, Wp, bp, op + r * os, os, a, a + k * P, nx, nnext);
        if (!ok) { bad_label = true; return; }
        r += count == B ? B : 1;
      }
    }
  });
  TORCH_CHECK(!bad_row, "a row index is outside the data (", N, " rows)");
  TORCH_CHECK(!bad_label, "a label is outside the classes [0, ", q, ")");
  const float alpha = static_cast<float>(-lr / static_cast<double>(n));
  const float beta = static_cast<float>(decay);
  at::parallel_for(0, span, 2048, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      float s = acc[e];
      for (int64_t c = 1; c < chunks; ++c) s += acc[c * span + e];
      if (e < k * P) Wp[e] = beta * Wp[e] + alpha * s;
      else bp[e - k * P] += alpha * s;
    }
  });
}

}  // namespace

// X (N, k) float32 contiguous; y (N,) int64, X's labels; rows (n,) int64 (empty: all of X);
// W (k, P) float32 contiguous, P = 8, 16 or 32; b (P,); out (n, q) float32, q <= P, rows contiguous.
void softmax_sgd_step(torch::Tensor X, torch::Tensor y, torch::Tensor rows, torch::Tensor W,
                      torch::Tensor b, torch::Tensor out, double lr, double decay) {
  for (const auto* t : {&X, &W, &b, &out})
    TORCH_CHECK(t->scalar_type() == torch::kFloat32 && t->device().is_cpu(),
                "the softmax kernel takes float32 CPU tensors");
  TORCH_CHECK(y.scalar_type() == torch::kInt64 && rows.scalar_type() == torch::kInt64,
              "labels and rows must be int64");
  TORCH_CHECK(X.dim() == 2 && X.is_contiguous() && W.is_contiguous() && b.is_contiguous() &&
                  y.is_contiguous() && rows.is_contiguous() && out.stride(1) == 1,
              "the softmax kernel takes contiguous tensors");
  TORCH_CHECK(W.size(0) == X.size(1) && b.size(0) == W.size(1) && y.size(0) == X.size(0),
              "shapes disagree");
  TORCH_CHECK(out.size(0) == (rows.numel() > 0 ? rows.numel() : X.size(0)) &&
                  out.size(1) >= 1 && out.size(1) <= W.size(1),
              "out must be (batch, q) with q at most W's width");
  switch (W.size(1)) {
    case 8: step<1, 6>(X, y, rows, W, b, out, lr, decay); break;
    case 16: step<2, 6>(X, y, rows, W, b, out, lr, decay); break;
    case 32: step<4, 3>(X, y, rows, W, b, out, lr, decay); break;
    default: TORCH_CHECK(false, "W's width must be 8, 16 or 32, not ", W.size(1));
  }
}
