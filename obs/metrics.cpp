#include "obs/metrics.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace sigv4::obs {
namespace {

void append_number(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];  // shortest text that reads back as the same double ("0.1", not "0.10000000000000001")
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc{} ? end : buf);
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

histogram::histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out.append(name).append("_bucket{").append(labels);
    if (!labels.empty()) out += ',';
    out += "le=\"";
    append_number(out, i < bounds_.size() ? bounds_[i] : INFINITY);
    out += "\"} ";
    out += std::to_string(cumulative);
    out += '\n';
  }
  std::string braces;  // built by appending: `"{" + std::string(x)` trips GCC 12's -Wrestrict (bug 105329)
  if (!labels.empty()) braces.append("{").append(labels).append("}");
  out.append(name).append("_sum").append(braces).append(" ");
  append_number(out, sum_.load(std::memory_order_relaxed));
  out += '\n';
  out.append(name).append("_count").append(braces).append(" ");
  out += std::to_string(count_.load(std::memory_order_relaxed));
  out += '\n';
}

void family_base::render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " " + type_ + "\n";
  render_children(out);
}

std::string family_base::label_text(const std::vector<std::string>& values) const {
  std::string s;
  for (std::size_t i = 0; i < labels_.size() && i < values.size(); ++i) {
    if (i != 0) s += ',';
    s += labels_[i] + "=\"";
    append_label_value(s, values[i]);
    s += '"';
  }
  return s;
}

template <>
void family<counter>::render_children(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, c] : children_) {
    auto labels = label_text(key);
    out += name_ + (labels.empty() ? "" : "{" + labels + "}") + " ";
    if (unit_ == 1) {
      out += std::to_string(c->value());
    } else {
      append_number(out, static_cast<double>(c->value()) * unit_);
    }
    out += '\n';
  }
}

template <>
void family<gauge>::render_children(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, g] : children_) {
    auto labels = label_text(key);
    out += name_ + (labels.empty() ? "" : "{" + labels + "}") + " ";
    append_number(out, g->value());
    out += '\n';
  }
}

template <>
void family<histogram>::render_children(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, h] : children_) h->render(out, name_, label_text(key));
}

counter_family& registry::counters(std::string name, std::string help, std::vector<std::string> labels) {
  auto f = std::make_unique<counter_family>(std::move(name), std::move(help), "counter", std::move(labels),
                                            [] { return std::make_unique<counter>(); });
  auto& ref = *f;
  std::lock_guard lock(mutex_);
  families_.push_back(std::move(f));
  return ref;
}

gauge_family& registry::gauges(std::string name, std::string help, std::vector<std::string> labels) {
  auto f = std::make_unique<gauge_family>(std::move(name), std::move(help), "gauge", std::move(labels),
                                          [] { return std::make_unique<gauge>(); });
  auto& ref = *f;
  std::lock_guard lock(mutex_);
  families_.push_back(std::move(f));
  return ref;
}

histogram_family& registry::histograms(std::string name, std::string help, std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  auto f = std::make_unique<histogram_family>(std::move(name), std::move(help), "histogram", std::move(labels),
                                              [b = std::move(bounds)] { return std::make_unique<histogram>(b); });
  auto& ref = *f;
  std::lock_guard lock(mutex_);
  families_.push_back(std::move(f));
  return ref;
}

void registry::add_collector(std::function<void()> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collect));
}

std::string registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& c : collectors_) c();
  for (const auto& f : families_) f->render(out);
  return out;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10, 30, 60};
  return b;
}

}  // namespace sigv4::obs
