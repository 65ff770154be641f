#include "scraper/targets.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "conf/values.hpp"

namespace sigv4::scraper {

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  struct unit {
    std::int64_t ms;
    char name;
  };
  // Go's model.Duration.String: y, w, d, h, m, s, then ms for what is left; years and weeks only when they
  // divide what is left exactly ("90d", not "12w6d").
  constexpr std::array<unit, 6> units = {{{365LL * 24 * 3600 * 1000, 'y'},
                                          {7LL * 24 * 3600 * 1000, 'w'},
                                          {24LL * 3600 * 1000, 'd'},
                                          {3600LL * 1000, 'h'},
                                          {60LL * 1000, 'm'},
                                          {1000, 's'}}};
  std::string out;
  for (const auto& u : units) {
    if ((u.name == 'y' || u.name == 'w') && ms % u.ms != 0) continue;
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  if (ms > 0) out += std::to_string(ms) + "ms";
  return out;
}

std::string query_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

// Go's url.URL.EscapedPath with no RawPath (shouldEscape in encodePath mode): unreserved characters and
// $ & + , / : ; = @ are kept; everything else, the sub-delims ! ' ( ) * included, is escaped.
std::string escape_path(std::string_view p) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : p) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("-_.~$&+,;=:@/").find(static_cast<char>(c)) != std::string_view::npos;
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Go's net.SplitHostPort succeeds: "host:port" or "[v6]:port" (the port may be empty or any text).
bool has_port(std::string_view a) {
  if (a.starts_with('[')) {
    auto close = a.find(']');
    return close != std::string_view::npos && close + 1 < a.size() && a[close + 1] == ':';
  }
  auto colon = a.rfind(':');
  return colon != std::string_view::npos && a.find(':') == colon;
}

// Whether appending ":port" makes a SplitHostPort-able address (no second colon outside brackets).
bool port_can_be_added(std::string_view a) {
  if (a.starts_with('[')) return a.ends_with(']');
  return a.find(':') == std::string_view::npos && a.find('[') == std::string_view::npos &&
         a.find(']') == std::string_view::npos;
}

}  // namespace

std::string scrape_target::request_target() const {
  std::string out = escape_path(metrics_path);
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  // url.Values.Encode: keys sorted, each key's values in order.
  std::multimap<std::string, std::string> sorted(params.begin(), params.end());
  char sep = '?';
  for (const auto& [k, v] : sorted) {
    out += sep;
    out += query_escape(k);
    out += '=';
    out += query_escape(v);
    sep = '&';
  }
  return out;
}

std::string scrape_target::url() const {
  return scheme + "://" + address + request_target();
}

std::uint64_t scrape_target::identity() const {
  labels key = all;
  set(key, "__sigv4_target_url__", url());
  return hash(key);
}

populate_result populate(const labels& group_labels, std::string_view address, const target_defaults& job) {
  populate_result r;
  labels ls = group_labels;
  set(ls, "__address__", address);
  auto set_default = [&](std::string_view name, std::string_view value) {
    if (get(ls, name).empty()) set(ls, name, value);
  };
  set_default("job", job.job_name);
  set_default("__scrape_interval__", format_duration(job.interval));
  set_default("__scrape_timeout__", format_duration(job.timeout));
  set_default("__metrics_path__", job.metrics_path);
  set_default("__scheme__", job.scheme);
  // cfg.Params is a map of lists: the first value of each key becomes its label, unconditionally.
  std::vector<std::string_view> seen;
  for (const auto& [k, v] : job.params) {
    if (std::ranges::find(seen, k) != seen.end()) continue;
    seen.push_back(k);
    set(ls, "__param_" + k, v);
  }
  r.discovered = ls;
  if (job.relabel != nullptr && !process(ls, *job.relabel)) return r;

  std::string addr(get(ls, "__address__"));
  if (addr.empty()) {
    r.error = "no address";
    return r;
  }
  const std::string scheme(get(ls, "__scheme__"));
  if (!has_port(addr) && port_can_be_added(addr)) {
    if (scheme == "http" || scheme.empty()) {
      addr += ":80";
    } else if (scheme == "https") {
      addr += ":443";
    } else {
      r.error = "invalid scheme: \"" + job.scheme + "\"";
      return r;
    }
    set(ls, "__address__", addr);
  }
  // config.CheckTargetAddress: a scheme or path in the address is a configuration mistake.
  if (addr.find('/') != std::string::npos) {
    r.error = "\"" + addr + "\" is not a valid hostname";
    return r;
  }
  auto interval = conf::parse_duration(get(ls, "__scrape_interval__"));
  if (!interval) {
    r.error = "error parsing scrape interval: not a valid duration string: \"" +
              std::string(get(ls, "__scrape_interval__")) + "\"";
    return r;
  }
  if (interval->count() == 0) {
    r.error = "scrape interval cannot be 0";
    return r;
  }
  auto timeout = conf::parse_duration(get(ls, "__scrape_timeout__"));
  if (!timeout) {
    r.error = "error parsing scrape timeout: not a valid duration string: \"" +
              std::string(get(ls, "__scrape_timeout__")) + "\"";
    return r;
  }
  if (timeout->count() == 0) {
    r.error = "scrape timeout cannot be 0";
    return r;
  }
  if (*timeout > *interval) {
    r.error = "scrape timeout cannot be greater than scrape interval (\"" +
              std::string(get(ls, "__scrape_timeout__")) + "\" > \"" +
              std::string(get(ls, "__scrape_interval__")) + "\")";
    return r;
  }
  std::erase_if(ls, [](const label& l) { return l.name.starts_with("__meta_"); });
  if (get(ls, "instance").empty()) set(ls, "instance", addr);
  for (const auto& l : ls) {
    if (!valid_utf8(l.value)) {
      r.error = "invalid label value for \"" + l.name + "\"";
      return r;
    }
  }

  scrape_target t;
  t.discovered = std::move(r.discovered);
  t.scheme = scheme;
  t.address = addr;
  t.metrics_path = std::string(get(ls, "__metrics_path__"));
  t.interval = *interval;
  t.timeout = *timeout;
  t.params = job.params;
  for (const auto& l : ls) {
    if (!l.name.starts_with("__param_")) continue;
    std::string key = l.name.substr(8);
    auto it = std::ranges::find(t.params, key, &std::pair<std::string, std::string>::first);
    if (it != t.params.end()) {
      it->second = l.value;
    } else {
      t.params.emplace_back(key, l.value);
    }
  }
  for (const auto& l : ls) {
    if (!l.name.starts_with("__")) t.lbls.push_back(l);
  }
  t.all = std::move(ls);
  r.discovered = t.discovered;
  r.target = std::move(t);
  return r;
}

}  // namespace sigv4::scraper
