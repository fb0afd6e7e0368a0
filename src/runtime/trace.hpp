// A Chrome trace-event timeline of the simulated run (Perfetto and chrome://tracing open it):
// one process per chip, tracks for compute, DMA and the link, in simulated time. Each event
// carries the op, its shape, cycles and energy; every block synchronisation is also an instant
// marker ("sync 1" after attention, "sync 2" after the FFN) on the link track.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mcuemu::runtime {

class Trace {
 public:
  enum Track { Compute = 0, Dma = 1, Link = 2 };
  // A complete event [start, start + dur) in cycles.
  void slice(Track track, std::string name, int layer, int64_t start, int64_t dur,
             nlohmann::json args);
  // An instant marker at `at` cycles.
  void marker(Track track, std::string name, int layer, int64_t at, nlohmann::json args);
  size_t size() const { return events_.size(); }
  // This chip's events as trace-event JSON (ts and dur in microseconds at freq_mhz).
  nlohmann::json events_json(int chip, double freq_mhz) const;

 private:
  struct Event {
    Track track;
    std::string name;
    int layer;
    int64_t start, dur;
    bool instant;
    nlohmann::json args;
  };
  std::vector<Event> events_;
};

// The whole timeline: process and track names for `n_chips` chips plus every chip's events
// (each element of `chip_events` an array from events_json). Written atomically.
void write_chrome_trace(const std::string &path, int n_chips,
                        const std::vector<nlohmann::json> &chip_events, const nlohmann::json &meta);

}  // namespace mcuemu::runtime
