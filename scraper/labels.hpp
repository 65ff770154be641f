#pragma once
// The scraper's core value types: label sets, series and samples. Shared by the parser, relabeling, the
// scrape loop and the remote-write queue; nothing here does I/O.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sigv4::scraper {

struct label {
  std::string name;
  std::string value;
  friend bool operator==(const label&, const label&) = default;
  friend auto operator<=>(const label&, const label&) = default;
};

// A label set: sorted by name, names unique, no empty values (an empty value means "no such label", as in
// Prometheus). Builders may hold it unsorted while they work; `sort_labels` restores the invariant.
using labels = std::vector<label>;

void sort_labels(labels& ls);
// The value of `name`, or "" when absent. Linear: label sets are small.
std::string_view get(const labels& ls, std::string_view name);
// Sets (or, with an empty value, removes) one label, keeping the set sorted.
void set(labels& ls, std::string_view name, std::string_view value);
// Stable across processes and runs (xxHash-like 64-bit over name/value pairs with separators): used to pick
// a shard and to spread scrape offsets, so it must not depend on pointer values.
std::uint64_t hash(const labels& ls);
// Go's utf8.ValidString: no overlong forms, no surrogates, nothing above U+10FFFF. Label values must pass it.
bool valid_utf8(std::string_view s);
// `{a="1", b="2"}` with Prometheus' escaping, for logs and tests.
std::string to_string(const labels& ls);

// A series as the queue sees it: its final labels (after relabeling; external labels are added at send) and
// a process-unique id (the spool's series reference in the durable-queue issue). Immutable once made.
struct series {
  labels lbls;
  std::uint64_t hash = 0;  // hash(lbls)
  std::uint64_t id = 0;
};
using series_ptr = std::shared_ptr<const series>;

struct sample {
  series_ptr s;
  std::int64_t t_ms = 0;  // milliseconds since the Unix epoch
  double v = 0;
};

// Prometheus' stale marker: a NaN with this exact bit pattern (value.StaleNaN), never produced by arithmetic.
inline constexpr std::uint64_t stale_nan_bits = 0x7ff0000000000002ull;
double stale_nan();
bool is_stale_nan(double v);

// Where the scrape loop puts what it scraped. The queue implements it and alone owns delivery from there;
// append never blocks on the network (a full queue drops and counts, later a spool absorbs).
class appender {
 public:
  virtual ~appender() = default;
  // One scrape's samples (synthetic series included), in page order.
  virtual void append(std::vector<sample>&& batch) = 0;
};

}  // namespace sigv4::scraper
