// One call for a deploy-form LightNL block on the CPU (inference):
//   z = x + b + DWConv3x3(y),  y = x_c x_sc^T x_s / (H W)   (Eqn 9 + Eqn 8)
// for a float32 channels-last x. At batch 1 the PyTorch path pays ~10
// operator calls per block (each ~3-10 us of Python and dispatcher time),
// and oneDNN's depthwise conv costs ~40 us per call, of which its kernel is
// ~7 us on a 64 x 14 x 14 map. Here the whole block is one pass: the Gram
// matrix, then row by row the rows of y and the depthwise conv with its bias
// and the residual (the affinity order, and a Gram matrix too large for
// L2, take two at::bmm calls for y). light_nl.py's non_local_aggregate is
// the reference (tests compare both).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

// 8 and 16 floats (GCC / Clang vector extensions): AVX2 / AVX-512
// registers where the build targets them (light_nl_cpu.py), narrower
// registers in pairs otherwise. Channel loops take 16 at a time where C
// allows, else 8, else one (V = float: the same code, scalar).
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

template <typename V>
static inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V>
static inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// The Gram order with a (k, C) Gram matrix of up to 32768 entries (L2)
// takes loops of our own, tiled 4 rows x one vector of channels,
// instead of two at::bmm calls (their fixed cost, ~8 us each, is most of a
// block's time on 7x7 and 14x14 maps), and never stores y: each thread
// computes the rows of y its output rows need into a ring of 3 rows.
constexpr int64_t kSmallGram = 32768;

// gram (k, C) = x_sc^T x_s of one sample (xb: its H x W rows of C)
template <typename V>
static void gram_matrix(const float* xb, int64_t h, int64_t w, int64_t c,
                        int64_t k, int64_t stride, float* gram) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  for (int64_t ch = 0; ch < c; ch += lanes)
    for (int64_t i0 = 0; i0 < k; i0 += 4) {
      const int64_t rows = std::min<int64_t>(4, k - i0);
      V acc[4] = {};
      for (int64_t i = 0; i < h; i += stride)
        for (int64_t j = 0; j < w; j += stride) {
          const float* r = xb + (i * w + j) * c;
          const V v = load<V>(r + ch);
          if (rows == 4) {
            acc[0] += r[i0] * v;
            acc[1] += r[i0 + 1] * v;
            acc[2] += r[i0 + 2] * v;
            acc[3] += r[i0 + 3] * v;
          } else {
            for (int64_t u = 0; u < rows; ++u) acc[u] += r[i0 + u] * v;
          }
        }
      for (int64_t u = 0; u < rows; ++u)
        store<V>(gram + (i0 + u) * c + ch, acc[u]);
    }
}

// one row of H W y: its W pixels' x_c (k values each) times gram (k, C)
template <typename V>
static void y_row(const float* xrow, const float* gram, int64_t w, int64_t c,
                  int64_t k, float* yrow) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  for (int64_t p0 = 0; p0 < w; p0 += 4) {
    const int64_t pixels = std::min<int64_t>(4, w - p0);
    const float* r = xrow + p0 * c;
    for (int64_t ch = 0; ch < c; ch += lanes) {
      V acc[4] = {};
      for (int64_t i = 0; i < k; ++i) {
        const V g = load<V>(gram + i * c + ch);
        if (pixels == 4) {
          acc[0] += r[i] * g;
          acc[1] += r[c + i] * g;
          acc[2] += r[2 * c + i] * g;
          acc[3] += r[3 * c + i] * g;
        } else {
          for (int64_t u = 0; u < pixels; ++u) acc[u] += r[u * c + i] * g;
        }
      }
      for (int64_t u = 0; u < pixels; ++u)
        store<V>(yrow + (p0 + u) * c + ch, acc[u]);
    }
  }
}

// one output row: o = bias + r + the 3x3 depthwise conv of y, whose rows
// above / at / below are y[0..2] (nullptr outside the map); taps (9, C)
template <typename V>
static void conv_row(float* o, const float* r, const float* const y[3],
                     const float* taps, const float* bias, int64_t w,
                     int64_t c) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  // a vector of channels at a time, their 9 taps and bias in registers
  for (int64_t ch = 0; ch < c; ch += lanes) {
    V tap[9];
    for (int t = 0; t < 9; ++t) tap[t] = load<V>(taps + t * c + ch);
    const V b = load<V>(bias + ch);
    for (int64_t j = 0; j < w; ++j) {
      V acc = b + load<V>(r + j * c + ch);
      for (int d = 0; d < 3; ++d) {
        if (y[d] == nullptr) continue;
        const float* v = y[d] + j * c + ch;
        if (j > 0) acc += tap[3 * d] * load<V>(v - c);
        acc += tap[3 * d + 1] * load<V>(v);
        if (j + 1 < w) acc += tap[3 * d + 2] * load<V>(v + c);
      }
      store<V>(o + j * c + ch, acc);
    }
  }
}

// z for every row, with V's lanes dividing C. y comes from the loops above
// (Gram order, Gram matrix of at most kSmallGram entries) or else from two
// at::bmm calls (the affinity order; MKL for a large Gram matrix).
template <typename V>
static void fused_rows(const torch::Tensor& nhwc, int64_t k, int64_t stride,
                       bool affinity, const float* taps, const float* bias,
                       float* po) {
  const int64_t n = nhwc.size(0), h = nhwc.size(1), w = nhwc.size(2),
                c = nhwc.size(3), wc = w * c;
  const float* px = nhwc.data_ptr<float>();
  if (!affinity && k * c <= kSmallGram) {
    std::vector<float> gram(k * c);
    for (int64_t b = 0; b < n; ++b) {
      const float* xb = px + b * h * wc;
      float* ob = po + b * h * wc;
      gram_matrix<V>(xb, h, w, c, k, stride, gram.data());
      at::parallel_for(0, h, 1, [&](int64_t begin, int64_t end) {
        std::vector<float> ring(3 * wc);  // rows of y, row i in slot i % 3
        auto slot = [&](int64_t i) { return ring.data() + (i % 3) * wc; };
        for (int64_t i = std::max<int64_t>(begin - 1, 0); i <= begin; ++i)
          y_row<V>(xb + i * wc, gram.data(), w, c, k, slot(i));
        for (int64_t i = begin; i < end; ++i) {
          if (i + 1 < h)
            y_row<V>(xb + (i + 1) * wc, gram.data(), w, c, k, slot(i + 1));
          const float* rows[3] = {i > 0 ? slot(i - 1) : nullptr, slot(i),
                                  i + 1 < h ? slot(i + 1) : nullptr};
          conv_row<V>(ob + i * wc, xb + i * wc, rows, taps, bias, w, c);
        }
      });
    }
    return;
  }
  auto rows = nhwc.view({n, h * w, c});
  auto rows_s = stride > 1 ? nhwc.slice(1, 0, h, stride)
                                 .slice(2, 0, w, stride)
                                 .reshape({n, -1, c})
                           : rows;
  torch::Tensor y;  // (N, HW, C): H W y, channels-last
  if (affinity) {
    // (HW, k) x (k, HW') -> (HW, HW'); then x (HW', C)
    auto aff = at::bmm(rows.narrow(2, 0, k),
                       rows_s.narrow(2, 0, k).transpose(1, 2));
    y = at::bmm(aff, rows_s);
  } else {
    // (k, HW') x (HW', C) -> (k, C); then (HW, k) x (k, C)
    auto gram = at::bmm(rows_s.narrow(2, 0, k).transpose(1, 2), rows_s);
    // a contiguous (HW, k) operand: MKL is ~1.6x faster on it
    y = at::bmm(rows.narrow(2, 0, k).contiguous(), gram);
  }
  y = y.contiguous();
  const float* py = y.data_ptr<float>();
  at::parallel_for(0, n * h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % h;
      const float* here = py + row * wc;
      const float* rows3[3] = {i > 0 ? here - wc : nullptr, here,
                               i + 1 < h ? here + wc : nullptr};
      conv_row<V>(po + row * wc, px + row * wc, rows3, taps, bias, w, c);
    }
  });
}

torch::Tensor light_nl_forward(torch::Tensor x, torch::Tensor weight,
                               torch::Tensor bias, int64_t k, int64_t stride,
                               bool affinity) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 &&
                  x.device().is_cpu(),
              "light_nl_forward: x must be a float32 CPU (N, C, H, W) tensor");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  TORCH_CHECK(weight.numel() == c * 9 && bias.numel() == c,
              "light_nl_forward: weight must be (C, 1, 3, 3), bias (C,)");
  // (N, H, W, C) rows: a view of a channels-last x
  auto nhwc = x.permute({0, 2, 3, 1}).contiguous();
  // The conv is linear: its taps take the 1 / (H W) of Eqn 9. Taps as
  // (9, C) and the bias as (C,): the channel loops are contiguous.
  auto weight_c = weight.contiguous();
  auto bias_c = bias.contiguous();
  std::vector<float> taps(9 * c);
  {
    const float scale = 1.0f / static_cast<float>(h * w);
    const float* pw = weight_c.data_ptr<float>();
    for (int64_t ch = 0; ch < c; ++ch)
      for (int t = 0; t < 9; ++t) taps[t * c + ch] = pw[ch * 9 + t] * scale;
  }
  auto out = torch::empty({n, c, h, w},
                          x.options().memory_format(at::MemoryFormat::ChannelsLast));
  const float* pb = bias_c.data_ptr<float>();
  float* po = out.data_ptr<float>();
  if (c % 16 == 0)
    fused_rows<v16>(nhwc, k, stride, affinity, taps.data(), pb, po);
  else if (c % 8 == 0)
    fused_rows<v8>(nhwc, k, stride, affinity, taps.data(), pb, po);
  else
    fused_rows<float>(nhwc, k, stride, affinity, taps.data(), pb, po);
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("light_nl_forward", &light_nl_forward,
        "x + bias + DWConv3x3(x_c x_sc^T x_s / HW) for a channels-last x",
        pybind11::arg("x"), pybind11::arg("weight"), pybind11::arg("bias"),
        pybind11::arg("k"), pybind11::arg("stride"),
        pybind11::arg("affinity"));
}
