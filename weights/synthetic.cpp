// Deterministic synthetic weights (see synthetic.hpp for the scales and the generator).
#include "weights/synthetic.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <thread>

namespace mcuemu::weights {

namespace {

std::uint64_t splitmix64(std::uint64_t &x) {
  // splitmix64 (Steele, Lea, Flood 2014), the seeding recommended for xoshiro.
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  for (auto &s : s_) s = splitmix64(x);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform_open0() {
  // (k + 1) / 2^53 with k uniform in [0, 2^53): in (0, 1].
  return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;
}

void Rng::normal_pair(double &a, double &b) {
  const double u1 = uniform_open0();
  const double u2 = uniform_open0();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double t = 2.0 * std::numbers::pi * u2;
  a = r * std::cos(t);
  b = r * std::sin(t);
}

std::uint64_t stream_of(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

void fill_normal(std::span<float> out, double mean, double stddev, Rng &rng) {
  std::size_t i = 0;
  double a = 0, b = 0;
  for (; i + 1 < out.size(); i += 2) {
    rng.normal_pair(a, b);
    out[i] = static_cast<float>(mean + stddev * a);
    out[i + 1] = static_cast<float>(mean + stddev * b);
  }
  if (i < out.size()) {
    rng.normal_pair(a, b);
    out[i] = static_cast<float>(mean + stddev * a);
  }
}

namespace {

// Fills every tensor of the table. A tensor is cut into chunks of kChunk elements and chunk k
// draws from stream stream_of(name) + k * kChunkStride, so the values depend only on the seed,
// the name and the position, never on the number of threads or the order of work; a few
// threads share the chunks.
constexpr std::size_t kChunk = std::size_t{1} << 20;
constexpr std::uint64_t kChunkStride = 0x9e3779b97f4a7c15ULL;

void fill_all(const std::vector<TensorRef> &refs, const ModelConfig &c, std::uint64_t seed,
              const Progress &progress, const InitScales &sc) {
  const double residual_std = sc.weight_std / std::sqrt(2.0 * c.n_layers);
  struct Item {
    const TensorRef *ref;
    std::size_t chunk;
  };
  std::vector<Item> items;
  std::size_t total = 0;
  for (const auto &r : refs) {
    const std::size_t n = r.spec.numel();
    for (std::size_t k = 0; k * kChunk < n; ++k) items.push_back({&r, k});
    total += n * sizeof(float);
  }

  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::size_t done = 0;
  auto work = [&] {
    for (std::size_t i = next++; i < items.size(); i = next++) {
      const TensorRef &r = *items[i].ref;
      const std::size_t k = items[i].chunk;
      Rng rng(seed, stream_of(r.spec.name) + k * kChunkStride);
      const std::size_t begin = k * kChunk, len = std::min(kChunk, r.data->size() - begin);
      std::span<float> out(r.data->data() + begin, len);
      switch (r.spec.init) {
        case Init::Normal:
          fill_normal(out, 0.0, sc.weight_std, rng);
          break;
        case Init::ResidualNormal:
          fill_normal(out, 0.0, residual_std, rng);
          break;
        case Init::NormWeight:
          fill_normal(out, 1.0, sc.norm_jitter, rng);
          break;
        case Init::Bias:
          fill_normal(out, 0.0, sc.bias_std, rng);
          break;
      }
      if (progress) {
        std::lock_guard<std::mutex> lock(mu);
        done += len * sizeof(float);
        progress(done, total);
      }
    }
  };
  const unsigned hw = std::thread::hardware_concurrency();
  const unsigned n_threads = std::max(1u, std::min(hw == 0 ? 1u : hw, 8u));
  std::vector<std::thread> pool;
  std::exception_ptr error;
  auto guarded = [&] {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      next = items.size();  // stop the others
    }
  };
  for (unsigned t = 1; t < n_threads; ++t) pool.emplace_back(guarded);
  guarded();
  for (auto &th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

FloatModel synthetic_llama(const ModelConfig &c, std::uint64_t seed, const Progress &progress,
                           const InitScales &scales) {
  if (c.arch != Arch::Llama) throw std::invalid_argument("synthetic_llama: not a llama config");
  FloatModel m = make_float_model(c);
  fill_all(tensors(m), c, seed, progress, scales);
  return m;
}

FloatMobileBertModel synthetic_mobilebert(const ModelConfig &c, std::uint64_t seed,
                                          const Progress &progress, const InitScales &scales) {
  if (c.arch != Arch::MobileBert) {
    throw std::invalid_argument("synthetic_mobilebert: not a mobilebert config");
  }
  FloatMobileBertModel m = make_float_mobilebert(c);
  fill_all(tensors(m), c, seed, progress, scales);
  return m;
}

}  // namespace mcuemu::weights
