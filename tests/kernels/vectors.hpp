// Reader for tests/data/kernel_vectors.h5, the golden model's vectors (scripts/golden/README.md).
#pragma once

#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mcuemu::test {

// One case: /<kernel>/<case>. Integer attributes and typed datasets.
class Case {
 public:
  Case(H5::Group g, std::string name) : g_(std::move(g)), name_(std::move(name)) {}
  const std::string &name() const { return name_; }

  int64_t attr(const std::string &key) const {
    if (!g_.attrExists(key)) throw std::runtime_error(name_ + ": no attribute " + key);
    int64_t v = 0;
    g_.openAttribute(key).read(H5::PredType::NATIVE_INT64, &v);
    return v;
  }
  int32_t i32(const std::string &key) const { return static_cast<int32_t>(attr(key)); }
  bool has(const std::string &dataset) const { return g_.nameExists(dataset); }

  template <typename T>
  std::vector<T> data(const std::string &dataset) const {
    H5::DataSet ds = g_.openDataSet(dataset);
    const hssize_t n = ds.getSpace().getSimpleExtentNpoints();
    std::vector<T> v(static_cast<size_t>(n));
    if (n > 0) ds.read(v.data(), native<T>());
    return v;
  }

 private:
  template <typename T>
  static const H5::PredType &native() {
    if constexpr (std::is_same_v<T, int8_t>)
      return H5::PredType::NATIVE_INT8;
    else if constexpr (std::is_same_v<T, int16_t>)
      return H5::PredType::NATIVE_INT16;
    else if constexpr (std::is_same_v<T, int32_t>)
      return H5::PredType::NATIVE_INT32;
    else
      return H5::PredType::NATIVE_INT64;
  }
  H5::Group g_;
  std::string name_;
};

// All cases of one kernel group; fails the test if the group is missing or empty.
inline std::vector<Case> load_cases(const std::string &kernel) {
  H5::H5File f(MCUEMU_VECTORS_FILE, H5F_ACC_RDONLY);
  std::vector<Case> out;
  if (!f.nameExists(kernel)) {
    ADD_FAILURE() << "no group /" << kernel << " in " << MCUEMU_VECTORS_FILE;
    return out;
  }
  H5::Group g = f.openGroup(kernel);
  for (hsize_t i = 0; i < g.getNumObjs(); ++i) {
    std::string name = g.getObjnameByIdx(i);
    out.emplace_back(g.openGroup(name), kernel + "/" + name);
  }
  EXPECT_FALSE(out.empty()) << "no cases for " << kernel;
  return out;
}

// Exact comparison that reports the first mismatch as (index, got, want).
template <typename T, typename U>
::testing::AssertionResult exact(const std::vector<T> &got, const std::vector<U> &want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  size_t bad = 0, first = got.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (static_cast<int64_t>(got[i]) != static_cast<int64_t>(want[i])) {
      if (first == got.size()) first = i;
      ++bad;
    }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " differ; first at index " << first << ": got "
         << static_cast<int64_t>(got[first]) << ", want " << static_cast<int64_t>(want[first]);
}

}  // namespace mcuemu::test
