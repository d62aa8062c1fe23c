// One call for a deploy-form LightNL block on the CPU (inference):
//   z = x + b + DWConv3x3(y),  y = x_c x_sc^T x_s / (H W)   (Eqn 9 + Eqn 8)
// for a float32 channels-last x. At batch 1 the PyTorch path pays ~10
// operator calls per block (each ~3-10 us of Python and dispatcher time),
// and oneDNN's depthwise conv costs ~40 us per call, of which its kernel is
// ~7 us on a 64 x 14 x 14 map. Here a block is one pass over its map: the
// Gram matrix (or, in the affinity order, the transposed x_sc), then row by
// row the rows of y into a ring of 3 rows (y is never stored) and the
// depthwise conv with its bias and the residual. Every product is one
// register-tiled loop (no GEMM library call: its fixed cost is most of a
// small block's time). Any size is computed correctly; light_nl.py sends
// only blocks whose Gram matrix or x_s fits in L2 here (MKL's blocked GEMMs
// win beyond). light_nl.py's non_local_aggregate is the reference (tests
// compare both).
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

// 8 and 16 floats (GCC / Clang vector extensions): AVX2 / AVX-512
// registers where the build targets them (light_nl_cpu.py), narrower
// registers in pairs otherwise. Channel loops take 16 at a time where C
// allows, else 8, else one (V = float: the same code, scalar).
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

namespace {

template <typename V>
constexpr int64_t lanes = sizeof(V) / sizeof(float);

template <typename V>
inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V>
inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// n zeroed floats from a 64-byte boundary: with rows of a multiple of 16
// floats, no vector load straddles two cache lines
class Buffer {
 public:
  explicit Buffer(int64_t n = 0) : floats_(n > 0 ? n + 15 : 0, 0.0f) {}
  float* data() {
    const auto p = reinterpret_cast<std::uintptr_t>(floats_.data());
    return reinterpret_cast<float*>((p + 63) & ~std::uintptr_t(63));
  }

 private:
  std::vector<float> floats_;
};

// A product a (rows, kk) b (kk, n) in strides: a[r * lda + i * inca],
// b[i * ldb + j], out[r * ldo + j]; V's lanes divide n. ACC adds to out.
struct Product {
  const float* a;
  int64_t lda, inca;
  const float* b;
  int64_t ldb;
  float* out;
  int64_t ldo;
};

// R rows x NV vectors of out: R x NV sums in registers over one pass of kk
template <typename V, int R, int NV, bool ACC>
inline void tile(const Product& p, int64_t r0, int64_t j, int64_t kk) {
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v)
      acc[r][v] = ACC ? load<V>(p.out + (r0 + r) * p.ldo + j + v * lanes<V>)
                      : V{};
  const float* a = p.a + r0 * p.lda;
  const float* b = p.b + j;
  for (int64_t i = 0; i < kk; ++i, a += p.inca, b += p.ldb) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load<V>(b + v * lanes<V>);
    for (int r = 0; r < R; ++r) {
      const float s = a[r * p.lda];
      for (int v = 0; v < NV; ++v) acc[r][v] += s * bv[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v)
      store<V>(p.out + (r0 + r) * p.ldo + j + v * lanes<V>, acc[r][v]);
}

template <typename V, int R, bool ACC>
inline void tile_rows(const Product& p, int64_t r0, int64_t kk, int64_t n) {
  int64_t j = 0;
  for (; j + 2 * lanes<V> <= n; j += 2 * lanes<V>)
    tile<V, R, 2, ACC>(p, r0, j, kk);
  for (; j < n; j += lanes<V>) tile<V, R, 1, ACC>(p, r0, j, kk);
}

// out (rows, n) (+)= a (rows, kk) b (kk, n), tiles of 4 rows x 2 vectors
template <typename V, bool ACC = false>
void product(const Product& p, int64_t rows, int64_t kk, int64_t n) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) tile_rows<V, 4, ACC>(p, r, kk, n);
  switch (rows - r) {
    case 3: tile_rows<V, 3, ACC>(p, r, kk, n); break;
    case 2: tile_rows<V, 2, ACC>(p, r, kk, n); break;
    case 1: tile_rows<V, 1, ACC>(p, r, kk, n); break;
    default: break;
  }
}

// P output pixels of one vector of channels: bias + residual + the 3x3
// taps over the rows of y above / at / below (y[d] points at the pixel left
// of the first: rows are zero-padded by one pixel each side). P independent
// sums: their FMAs overlap.
template <typename V, int P>
inline void conv_pixels(float* o, const float* r, const float* const y[3],
                        const V* tap, V b, int64_t c) {
  V acc[P];
  for (int u = 0; u < P; ++u) acc[u] = b + load<V>(r + u * c);
  for (int d = 0; d < 3; ++d)
    for (int e = 0; e < 3; ++e)
      for (int u = 0; u < P; ++u)
        acc[u] += tap[3 * d + e] * load<V>(y[d] + (u + e) * c);
  for (int u = 0; u < P; ++u) store<V>(o + u * c, acc[u]);
}

// one output row o = bias + r + DWConv3x3 over padded rows of y; taps (9, C)
template <typename V>
void conv_row(float* o, const float* r, const float* const y[3],
              const float* taps, const float* bias, int64_t w, int64_t c) {
  for (int64_t ch = 0; ch < c; ch += lanes<V>) {
    V tap[9];
    for (int t = 0; t < 9; ++t) tap[t] = load<V>(taps + t * c + ch);
    const V b = load<V>(bias + ch);
    int64_t j = 0;
    for (; j + 4 <= w; j += 4) {
      const float* yj[3] = {y[0] + j * c + ch, y[1] + j * c + ch,
                            y[2] + j * c + ch};
      conv_pixels<V, 4>(o + j * c + ch, r + j * c + ch, yj, tap, b, c);
    }
    for (; j < w; ++j) {
      const float* yj[3] = {y[0] + j * c + ch, y[1] + j * c + ch,
                            y[2] + j * c + ch};
      conv_pixels<V, 1>(o + j * c + ch, r + j * c + ch, yj, tap, b, c);
    }
  }
}

// z of one image (x, o: H rows of W pixels of C), V's lanes dividing C.
//   Gram order: gram (k, C) = x_sc^T x_s, then a row of y = x_c rows gram.
//   Affinity order: affinities (W, HW') = x_c rows x_sc^T, then a row of
//   y = affinities x_s (x_s copied compactly when strided).
// Threads take gram rows, then output rows; each computes the rows of y
// its output rows need (one above and one below its range as well).
template <typename V>
void image(const float* x, float* o, int64_t h, int64_t w, int64_t c,
           int64_t k, int64_t stride, bool affinity, const float* taps,
           const float* bias) {
  const int64_t wc = w * c;
  const int64_t hs = (h + stride - 1) / stride, ws = (w + stride - 1) / stride;
  const int64_t hws = hs * ws;
  Buffer gram, xs_copy, xsc_t;
  int64_t hws_pad = 0;
  const float* xs = x;  // x_s as (HW', C) rows
  if (affinity) {
    if (stride > 1) {
      xs_copy = Buffer(hws * c);
      for (int64_t i = 0; i < hs; ++i)
        for (int64_t j = 0; j < ws; ++j)
          std::memcpy(xs_copy.data() + (i * ws + j) * c,
                      x + (i * stride * w + j * stride) * c, c * sizeof(float));
      xs = xs_copy.data();
    }
    hws_pad = (hws + lanes<V> - 1) / lanes<V> * lanes<V>;
    xsc_t = Buffer(k * hws_pad);  // x_sc^T, zero-padded to the lanes
    for (int64_t q = 0; q < hws; ++q)
      for (int64_t i = 0; i < k; ++i)
        xsc_t.data()[i * hws_pad + q] = xs[q * c + i];
  } else {
    // gram[i] = sum over x_s's pixels of x[i] x, one subsampled row at a
    // time (a row: ws pixels stride * C apart)
    gram = Buffer(k * c);
    at::parallel_for(0, (k + 3) / 4, 1, [&](int64_t begin, int64_t end) {
      const int64_t r0 = 4 * begin, rows = std::min(4 * end, k) - r0;
      for (int64_t i = 0; i < h; i += stride) {
        const float* xr = x + i * wc;
        product<V, true>(Product{xr + r0, 1, stride * c, xr, stride * c,
                                 gram.data() + r0 * c, c},
                         rows, ws, c);
      }
    });
  }
  at::parallel_for(0, h, 1, [&](int64_t begin, int64_t end) {
    const int64_t row = (w + 2) * c;  // a row of y, zero-padded
    Buffer ring(4 * row);  // rows i % 3, and a zero row
    Buffer aff(affinity ? w * hws_pad : 0);
    const float* zero = ring.data() + 3 * row;
    auto slot = [&](int64_t i) { return ring.data() + (i % 3) * row; };
    auto y_row = [&](int64_t i) {
      const float* xr = x + i * wc;
      float* yr = slot(i) + c;
      if (affinity) {
        product<V>(Product{xr, c, 1, xsc_t.data(), hws_pad, aff.data(),
                           hws_pad},
                   w, k, hws_pad);
        product<V>(Product{aff.data(), hws_pad, 1, xs, c, yr, c}, w, hws, c);
      } else {
        product<V>(Product{xr, c, 1, gram.data(), c, yr, c}, w, k, c);
      }
    };
    for (int64_t i = std::max<int64_t>(begin - 1, 0); i <= begin; ++i)
      y_row(i);
    for (int64_t i = begin; i < end; ++i) {
      if (i + 1 < h) y_row(i + 1);
      const float* y[3] = {i > 0 ? slot(i - 1) : zero, slot(i),
                           i + 1 < h ? slot(i + 1) : zero};
      conv_row<V>(o + i * wc, x + i * wc, y, taps, bias, w, c);
    }
  });
}

template <typename V>
void batch(const float* x, float* o, int64_t n, int64_t h, int64_t w,
           int64_t c, int64_t k, int64_t stride, bool affinity,
           const float* taps, const float* bias) {
  auto images = [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      image<V>(x + b * h * w * c, o + b * h * w * c, h, w, c, k, stride,
               affinity, taps, bias);
  };
  // as many images as threads: a thread an image (ATen runs the loops in
  // image() inline then); else the threads share each image
  if (n > 1 && n >= at::get_num_threads())
    at::parallel_for(0, n, 1, images);
  else
    images(0, n);
}

torch::Tensor light_nl_forward(torch::Tensor x, torch::Tensor weight,
                               torch::Tensor bias, int64_t k, int64_t stride,
                               bool affinity) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 &&
                  x.device().is_cpu() &&
                  x.is_contiguous(at::MemoryFormat::ChannelsLast),
              "light_nl_forward: x must be a channels-last float32 CPU "
              "(N, C, H, W) tensor");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  TORCH_CHECK(weight.numel() == c * 9 && bias.numel() == c &&
                  weight.scalar_type() == torch::kFloat32 &&
                  bias.scalar_type() == torch::kFloat32,
              "light_nl_forward: weight must be float32 (C, 1, 3, 3), "
              "bias (C,)");
  TORCH_CHECK(1 <= k && k <= c && stride >= 1,
              "light_nl_forward: needs 1 <= k <= C and stride >= 1");
  // The conv is linear: its taps take the 1 / (H W) of Eqn 9. Taps as
  // (9, C) and the bias as (C,): the channel loops are contiguous.
  auto weight_c = weight.contiguous();
  auto bias_c = bias.contiguous();
  Buffer taps(9 * c);
  const float scale = 1.0f / static_cast<float>(h * w);
  const float* pw = weight_c.data_ptr<float>();
  float* pt = taps.data();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int t = 0; t < 9; ++t) pt[t * c + ch] = pw[ch * 9 + t] * scale;
  auto out = torch::empty({n, c, h, w}, x.options().memory_format(
                                            at::MemoryFormat::ChannelsLast));
  const float* px = x.data_ptr<float>();
  const float* pb = bias_c.data_ptr<float>();
  float* po = out.data_ptr<float>();
  if (c % 16 == 0)
    batch<v16>(px, po, n, h, w, c, k, stride, affinity, taps.data(), pb);
  else if (c % 8 == 0)
    batch<v8>(px, po, n, h, w, c, k, stride, affinity, taps.data(), pb);
  else
    batch<float>(px, po, n, h, w, c, k, stride, affinity, taps.data(), pb);
  return out;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("light_nl_forward", &light_nl_forward,
        "x + bias + DWConv3x3(x_c x_sc^T x_s / HW) for a channels-last x",
        pybind11::arg("x"), pybind11::arg("weight"), pybind11::arg("bias"),
        pybind11::arg("k"), pybind11::arg("stride"),
        pybind11::arg("affinity"));
}
