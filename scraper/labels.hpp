#pragma once
// The scraper's core value types: label sets, series and samples. Shared by the parser, relabeling, the
// scrape loop and the remote-write queue; nothing here does I/O.
#include <cstdint>
#include <span>
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
// Stable across processes and runs (XXH3-64 of the set's flat form, below): used to pick a shard and to
// spread scrape offsets, so it must not depend on pointer values. The flat form is canonical for a sorted
// set (length-prefixed, so names and values cannot run into each other).
std::uint64_t hash(const labels& ls);
// Go's utf8.ValidString: no overlong forms, no surrogates, nothing above U+10FFFF. Label values must pass it.
bool valid_utf8(std::string_view s);
// `{a="1", b="2"}` with Prometheus' escaping, for logs and tests.
std::string to_string(const labels& ls);

// A label as views into someone else's bytes (a page, a sample_batch, a labels object): the hot path builds
// and passes label sets as these, so a scraped sample costs no allocation.
struct label_view {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const label_view&, const label_view&) = default;
};
using label_views = std::vector<label_view>;

// Label-name order (std::string's: bytes as unsigned), the first byte compared inline: names of a set mostly
// differ there, and the hot paths (merges, lookups, relabeling) then skip a memcmp call.
inline bool name_less(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0])
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  return a < b;
}

// The same value hash(labels) gives for the same sorted set.
std::uint64_t hash(std::span<const label_view> ls);
// hash() of the set whose flat form (append_flat) this is.
std::uint64_t hash_flat(std::string_view flat);
// The same function (XXH3-64) over any bytes: fingerprints and cache keys that are not label sets.
inline std::uint64_t hash_bytes(std::string_view bytes) {
  return hash_flat(bytes);
}
std::string to_string(std::span<const label_view> ls);
void to_views(const labels& ls, label_views& out);

// A sorted label set in one buffer, as the remote-write wire format writes TimeSeries.labels: each label a
// length-delimited field 1 holding Label{name = 1, value = 2}. So a series' labels go into a WriteRequest
// with one copy, and a sample costs its label bytes plus a few, not an object per label.
void append_flat(std::string& out, std::span<const label_view> ls);
// The labels of a flat set, as views into `flat` (which must outlive them). False: not a flat set.
bool read_flat(std::string_view flat, label_views& out);
labels to_labels(std::string_view flat);

// One scrape's samples (synthetic series and stale markers included) with their final labels (after
// relabeling; external labels are added per remote at send), in page order: the seam between scraping and
// delivery. Everything in two buffers, reused from scrape to scrape.
class sample_batch {
 public:
  struct entry {
    std::uint32_t off = 0;  // the flat labels: arena[off, off + len)
    std::uint32_t len = 0;
    std::uint64_t hash = 0;  // hash() of the labels: picks the shard, so a series keeps its order
    std::int64_t t_ms = 0;   // milliseconds since the Unix epoch
    double v = 0;
  };

  // Returns the set's hash.
  std::uint64_t add(std::span<const label_view> ls, std::int64_t t_ms, double v);
  void add_flat(std::string_view flat, std::uint64_t h, std::int64_t t_ms, double v);
  std::string_view flat_labels(const entry& e) const { return std::string_view(arena_).substr(e.off, e.len); }
  const std::vector<entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // Keeps the first n samples (a failed page takes back what it added).
  void truncate(std::size_t n);
  void clear();

 private:
  std::string arena_;
  std::vector<entry> entries_;
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
  // One scrape's samples, in page order.
  virtual void append(const sample_batch& batch) = 0;
};

}  // namespace sigv4::scraper
