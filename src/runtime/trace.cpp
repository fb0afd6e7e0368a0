#include "runtime/trace.hpp"

#include <stdexcept>

#include "weights/atomic_file.hpp"

namespace mcuemu::runtime {

void Trace::slice(Track track, std::string name, int layer, int64_t start, int64_t dur,
                  nlohmann::json args) {
  events_.push_back({track, std::move(name), layer, start, dur, false, std::move(args)});
}

void Trace::marker(Track track, std::string name, int layer, int64_t at, nlohmann::json args) {
  events_.push_back({track, std::move(name), layer, at, 0, true, std::move(args)});
}

nlohmann::json Trace::events_json(int chip, double freq_mhz) const {
  nlohmann::json out = nlohmann::json::array();
  const double us_per_cycle = 1.0 / freq_mhz;
  for (const auto &e : events_) {
    nlohmann::json j = {{"name", e.name},
                        {"cat", e.track == Compute ? "compute"
                                : e.track == Dma   ? "dma"
                                                   : "link"},
                        {"pid", chip},
                        {"tid", static_cast<int>(e.track)},
                        {"ts", static_cast<double>(e.start) * us_per_cycle},
                        {"args", e.args}};
    j["args"]["layer"] = e.layer;
    j["args"]["start_cycle"] = e.start;
    if (e.instant) {
      j["ph"] = "i";
      j["s"] = "p";  // the marker spans the chip's process
    } else {
      j["ph"] = "X";
      j["dur"] = static_cast<double>(e.dur) * us_per_cycle;
      j["args"]["cycles"] = e.dur;
    }
    out.push_back(std::move(j));
  }
  return out;
}

void write_chrome_trace(const std::string &path, int n_chips,
                        const std::vector<nlohmann::json> &chip_events,
                        const nlohmann::json &meta) {
  nlohmann::json events = nlohmann::json::array();
  const char *tracks[] = {"compute", "DMA", "link"};
  for (int c = 0; c < n_chips; ++c) {
    events.push_back({{"ph", "M"},
                      {"name", "process_name"},
                      {"pid", c},
                      {"args", {{"name", "chip " + std::to_string(c)}}}});
    events.push_back(
        {{"ph", "M"}, {"name", "process_sort_index"}, {"pid", c}, {"args", {{"sort_index", c}}}});
    for (int t = 0; t < 3; ++t)
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", c},
                        {"tid", t},
                        {"args", {{"name", tracks[t]}}}});
  }
  for (const auto &ce : chip_events)
    for (const auto &e : ce) events.push_back(e);
  const nlohmann::json doc = {
      {"traceEvents", events}, {"displayTimeUnit", "ns"}, {"otherData", meta}};
  weights::ensure_parent_dir(path);
  weights::write_file_atomically(path, doc.dump() + "\n");
}

}  // namespace mcuemu::runtime
