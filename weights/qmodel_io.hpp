// The int8 model file (kind = "int8"): every int8 tensor and integer constant of QLlamaModel or
// QMobileBertModel (the `architecture` attribute says which).
// Layout in weights/FORMAT.md ("int8 models"). Reads check the format version, the kind, every
// dataset's presence, dtype and shape, and every constant's presence; errors are FileError
// naming the file and the dataset or attribute.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "weights/qmodel.hpp"

namespace mcuemu::weights {

// Writes atomically (temporary name, then rename): the path holds the whole file or nothing new.
void write_qllama(const std::string &path, const QLlamaModel &m, const std::string &source);
QLlamaModel read_qllama(const std::string &path);
// Only one chip's slice (m.slice = slice): the same checks on every dataset's dtype and shape,
// but only the slice's rows / columns are read from the file, so a chip never holds the whole
// model in memory. Throws std::invalid_argument if the slice does not fit the model.
QLlamaModel read_qllama_slice(const std::string &path, const LlamaSlice &slice);
// Where the int8 weight matrices of a slice go: given a matrix's (out, in), memory of at least
// out * in bytes (the reader reads the matrix into its start and keeps the span in
// QLinear::placed / QLlamaModel::token_embedding_placed). Asked for the embedding first, then
// each layer's wq, wk, wv, wo, w1, w3, w2.
using WeightPlacer = std::function<std::span<int8_t>(std::size_t out, std::size_t in)>;
QLlamaModel read_qllama_slice(const std::string &path, const LlamaSlice &slice,
                              const WeightPlacer &place, std::shared_ptr<void> storage);

void write_qmobilebert(const std::string &path, const QMobileBertModel &m,
                       const std::string &source);
QMobileBertModel read_qmobilebert(const std::string &path);

}  // namespace mcuemu::weights
