// One call for a deploy-form LightNL block on the CPU (inference):
//   z = x + b + DWConv3x3(y),  y = x_c x_sc^T x_s / (H W)   (Eqn 9 + Eqn 8)
// for a float32 channels-last x. At batch 1 the PyTorch path pays ~10
// operator calls per block (each ~3-10 us of Python and dispatcher time)
// and oneDNN's depthwise conv ~40 us per call, of which its kernel is ~7 us
// on a 64 x 14 x 14 map; here the two products are two at::bmm calls and the
// depthwise conv, its bias and the residual add are one pass over y.
// light_nl.py's non_local_aggregate is the reference (tests compare both).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

// 8 floats (GCC / Clang vector extension): AVX2 / AVX-512 registers where
// the build targets them (light_nl_cpu.py), SSE pairs otherwise
typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

static inline void store8(float* p, v8 v) { std::memcpy(p, &v, sizeof(v)); }

// Gram order for a (k, C) Gram matrix of up to 32768 entries (L2): both products
// as register-tiled loops, 4 rows x 8 channels, instead of two at::bmm
// calls, whose fixed cost (~8 us each) is most of a block's time on 7x7 and
// 14x14 maps. C must be a multiple of 8. y gets (H W) y (rows of C).
constexpr int64_t kSmallGram = 32768;

static void gram_order_small(const float* px, int64_t n, int64_t h, int64_t w,
                             int64_t c, int64_t k, int64_t stride, float* py) {
  const int64_t hw = h * w;
  std::vector<float> gram(k * c);  // x_sc^T x_s, (k, C)
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = px + b * hw * c;
    for (int64_t ch = 0; ch < c; ch += 8)
      for (int64_t i0 = 0; i0 < k; i0 += 4) {
        const int64_t rows = std::min<int64_t>(4, k - i0);
        v8 acc[4] = {};
        for (int64_t i = 0; i < h; i += stride)
          for (int64_t j = 0; j < w; j += stride) {
            const float* r = xb + (i * w + j) * c;
            const v8 v = load8(r + ch);
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
          store8(gram.data() + (i0 + u) * c + ch, acc[u]);
      }
    // y rows: x_c^T (HW, k) times the Gram matrix (k, C)
    float* yb = py + b * hw * c;
    at::parallel_for(0, (hw + 3) / 4, 1, [&](int64_t begin, int64_t end) {
      for (int64_t tile = begin; tile < end; ++tile) {
        const int64_t p0 = tile * 4;
        const int64_t pixels = std::min<int64_t>(4, hw - p0);
        const float* r = xb + p0 * c;
        for (int64_t ch = 0; ch < c; ch += 8) {
          v8 acc[4] = {};
          for (int64_t i = 0; i < k; ++i) {
            const v8 g = load8(gram.data() + i * c + ch);
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
            store8(yb + (p0 + u) * c + ch, acc[u]);
        }
      }
    });
  }
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
  torch::Tensor y;  // (N, HW, C): H W y, channels-last
  if (!affinity && c % 8 == 0 && k * c <= kSmallGram) {
    y = torch::empty({n, h * w, c}, x.options());
    gram_order_small(nhwc.data_ptr<float>(), n, h, w, c, k, stride,
                     y.data_ptr<float>());
  } else {
    auto rows = nhwc.view({n, h * w, c});
    auto rows_s = stride > 1 ? nhwc.slice(1, 0, h, stride)
                                   .slice(2, 0, w, stride)
                                   .reshape({n, -1, c})
                             : rows;
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
  }
  y = y.contiguous();
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
  const float* py = y.data_ptr<float>();
  const float* px = nhwc.data_ptr<float>();
  const float* pt = taps.data();
  const float* pb = bias_c.data_ptr<float>();
  float* po = out.data_ptr<float>();
  const int64_t wc = w * c;
  at::parallel_for(0, n * h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % h;
      const int64_t di_lo = i > 0 ? -1 : 0, di_hi = i + 1 < h ? 1 : 0;
      float* o = po + row * wc;
      const float* r = px + row * wc;
      if (c % 8 == 0) {
        // 8 channels at a time, their 9 taps and bias held in registers
        for (int64_t ch = 0; ch < c; ch += 8) {
          v8 tap[9];
          for (int t = 0; t < 9; ++t) tap[t] = load8(pt + t * c + ch);
          const v8 b = load8(pb + ch);
          for (int64_t j = 0; j < w; ++j) {
            v8 acc = b + load8(r + j * c + ch);
            for (int64_t di = di_lo; di <= di_hi; ++di) {
              const float* v = py + (row + di) * wc + j * c + ch;
              const v8* t = tap + (di + 1) * 3;
              if (j > 0) acc += t[0] * load8(v - c);
              acc += t[1] * load8(v);
              if (j + 1 < w) acc += t[2] * load8(v + c);
            }
            store8(o + j * c + ch, acc);
          }
        }
        continue;
      }
      for (int64_t j = 0; j < w; ++j)
        for (int64_t ch = 0; ch < c; ++ch) {
          float acc = pb[ch] + r[j * c + ch];
          for (int64_t di = di_lo; di <= di_hi; ++di)
            for (int64_t dj = -1; dj <= 1; ++dj) {
              if (j + dj < 0 || j + dj >= w) continue;
              acc += pt[((di + 1) * 3 + dj + 1) * c + ch] *
                     py[(row + di) * wc + (j + dj) * c + ch];
            }
          o[j * c + ch] = acc;
        }
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("light_nl_forward", &light_nl_forward,
        "x + bias + DWConv3x3(x_c x_sc^T x_s / HW) for a channels-last x",
        pybind11::arg("x"), pybind11::arg("weight"), pybind11::arg("bias"),
        pybind11::arg("k"), pybind11::arg("stride"),
        pybind11::arg("affinity"));
}
