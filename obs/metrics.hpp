#pragma once
// A small Prometheus metrics registry: counters, gauges and histograms with labels, rendered in the text
// exposition format. Children are created once per label set and then updated lock-free; callers on a hot path
// keep the reference that with() returns.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sigv4::obs {

class counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class histogram {
 public:
  explicit histogram(const std::vector<double>& bounds);
  void observe(double v);
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

class family_base {
 public:
  family_base(std::string name, std::string help, std::string type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)), labels_(std::move(label_names)) {}
  virtual ~family_base() = default;
  void render(std::string& out) const;
  // Counters only: what one count is worth in the exported unit (e.g. 1e-9 to count nanoseconds and export
  // seconds), so hot paths add integers.
  void set_unit(double unit) { unit_ = unit; }

 protected:
  virtual void render_children(std::string& out) const = 0;
  std::string label_text(const std::vector<std::string>& values) const;
  std::string name_, help_, type_;
  std::vector<std::string> labels_;
  double unit_ = 1;
};

template <class Metric>
class family : public family_base {
 public:
  using factory = std::function<std::unique_ptr<Metric>()>;
  family(std::string name, std::string help, std::string type, std::vector<std::string> label_names, factory make)
      : family_base(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        make_(std::move(make)) {}

  Metric& with(std::initializer_list<std::string_view> values) {
    std::lock_guard lock(mutex_);
    // Found without building the key: request paths call this a few times per request.
    auto it = children_.lower_bound(values);
    if (it == children_.end() || key_less{}(values, it->first)) {
      it = children_.emplace_hint(it, std::vector<std::string>(values.begin(), values.end()), make_());
    }
    return *it->second;
  }

 private:
  // Lexicographic order over label values, between stored keys and the values a caller passes.
  struct key_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                          [](std::string_view x, std::string_view y) { return x < y; });
    }
  };
  void render_children(std::string& out) const override;
  factory make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, key_less> children_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

class registry {
 public:
  counter_family& counters(std::string name, std::string help, std::vector<std::string> labels = {});
  gauge_family& gauges(std::string name, std::string help, std::vector<std::string> labels = {});
  histogram_family& histograms(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds);
  // Runs before every render: for values computed at scrape time (e.g. seconds since an event).
  void add_collector(std::function<void()> collect);
  // Text exposition format 0.0.4.
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::function<void()>> collectors_;
  std::vector<std::unique_ptr<family_base>> families_;
};

// Latency buckets in seconds, 100 µs to 60 s.
const std::vector<double>& latency_buckets();

}  // namespace sigv4::obs
