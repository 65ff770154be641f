// The scraper's top-level keys: Prometheus' shape (global, scrape_configs, remote_write, and the server keys
// that mean nothing here), Grafana Agent's static `metrics:` shape, the inheritance from global, and the
// whole-section checks.
#include "scraper/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "scraper/config_detail.hpp"

namespace sigv4::scraper {
namespace {

using conf::quote;
using detail::yaml_reader;

instance& default_instance(scraper_config& cfg, int line) {
  if (cfg.instances.empty())
    cfg.instances.push_back({.name = "default", .jobs = {}, .remotes = {}, .line = line});
  return cfg.instances.front();
}

void read_jobs(yaml_reader& r, const YAML::Node& v, int line, instance& inst) {
  r.for_each_element(v, line, "scrape_configs",
                     [&](const YAML::Node& e, int el) { inst.jobs.push_back(detail::read_job(r, e, el)); });
}

void read_remotes(yaml_reader& r, const YAML::Node& v, int line, std::vector<remote_write_settings>& out) {
  r.for_each_element(v, line, "remote_write",
                     [&](const YAML::Node& e, int el) { out.push_back(detail::read_remote(r, e, el)); });
}

void ignored(yaml_reader& r, int line, std::string_view key, std::string_view what) {
  r.warn(line, quote(key) + " is " + std::string(what) + "; the sidecar ignores it");
}

// Prometheus' global block; the Agent's adds remote_write (given to instances without their own).
void read_global(yaml_reader& r, const YAML::Node& v, int line, bool agent, scraper_config& cfg) {
  cfg.global.line = line;
  std::vector<std::string_view> keys = {"scrape_interval", "scrape_timeout", "external_labels",
                                        "evaluation_interval", "query_log_file"};
  if (agent) keys.push_back("remote_write");
  r.for_each_key(v, line, "global", keys, [&](std::string_view key, const YAML::Node& gv, int gl) {
    std::string name = "global." + std::string(key);
    if (key == "scrape_interval" || key == "scrape_timeout") {
      conf::assign(key == "scrape_interval" ? cfg.raw_interval : cfg.raw_timeout, r.duration(gv, gl, name));
    } else if (key == "external_labels") {
      cfg.global.external_labels.clear();
      detail::read_labels(r, gv, gl, name, cfg.global.external_labels);
    } else if (key == "remote_write") {
      read_remotes(r, gv, gl, cfg.agent_global_remotes);
    } else {
      ignored(r, gl, name,
              key == "query_log_file" ? "a Prometheus server setting (PromQL)"
                                      : "a Prometheus server setting (rules)");
    }
  });
}

void read_agent_instance(yaml_reader& r, const YAML::Node& v, int line, std::size_t index,
                         scraper_config& cfg) {
  instance inst;
  inst.line = line;
  std::string where = "metrics.configs[" + std::to_string(index) + "]";
  r.for_each_key(
      v, line, where,
      {"name", "scrape_configs", "remote_write", "wal_truncate_frequency", "min_wal_time", "max_wal_time",
       "remote_flush_deadline", "write_stale_on_shutdown", "host_filter", "host_filter_relabel_configs"},
      [&](std::string_view key, const YAML::Node& iv, int il) {
        if (key == "name") {
          conf::assign(inst.name, r.string(iv, il, key));
        } else if (key == "scrape_configs") {
          read_jobs(r, iv, il, inst);
        } else if (key == "remote_write") {
          read_remotes(r, iv, il, inst.remotes);
        } else if (key == "write_stale_on_shutdown") {
          if (r.boolean(iv, il, key)) ignored(r, il, key, "a Grafana Agent WAL setting");
        } else if (key.starts_with("host_filter")) {
          r.error(il, quote(key) +
                          " is not supported (it needs the Agent's host discovery); "
                          "list this host's targets instead");
        } else if (r.duration(iv, il, key)) {
          ignored(r, il, key, "a Grafana Agent WAL setting");
        }
      });
  if (inst.name.empty())
    r.error(line, "error validating instance at index " + std::to_string(index) + ": missing instance name");
  cfg.instances.push_back(std::move(inst));
}

void read_metrics(yaml_reader& r, const YAML::Node& v, int line, scraper_config& cfg) {
  r.for_each_key(
      v, line, "metrics",
      {"global", "wal_directory", "configs", "wal_cleanup_age", "wal_cleanup_period",
       "instance_restart_backoff", "instance_mode", "http_disable_keepalives", "http_idle_conn_timeout",
       "scraping_service", "scraping_service_client"},
      [&](std::string_view key, const YAML::Node& mv, int ml) {
        std::string name = "metrics." + std::string(key);
        if (key == "global") {
          read_global(r, mv, ml, true, cfg);
        } else if (key == "wal_directory") {
          auto s = r.string(mv, ml, name);
          if (s && s->empty()) return r.error(ml, quote(name) + " is empty");
          conf::assign(cfg.wal_directory, s);
          cfg.wal_directory_line = ml;
        } else if (key == "configs") {
          r.for_each_element(mv, ml, name, [&](const YAML::Node& e, int el) {
            read_agent_instance(r, e, el, cfg.instances.size(), cfg);
          });
        } else if (key.starts_with("scraping_service")) {
          r.error(ml, quote(name) + " is not supported: the sidecar scrapes its own targets, unclustered");
        } else {
          ignored(r, ml, name, "a Grafana Agent setting with no equivalent here");
        }
      });
}

// Ours: the spool. A Prometheus server's own storage keys (its TSDB) load with a warning.
void read_storage(yaml_reader& r, const YAML::Node& v, int line, storage_settings& out) {
  out.line = line;
  r.for_each_key(v, line, "storage", {"path", "max_bytes", "max_age", "tsdb", "exemplars"},
                 [&](std::string_view key, const YAML::Node& sv, int sl) {
                   std::string name = "storage." + std::string(key);
                   if (key == "path") {
                     auto s = r.string(sv, sl, name);
                     if (s && s->empty()) return r.error(sl, quote(name) + " is empty");
                     conf::assign(out.path, s);
                   } else if (key == "max_bytes") {
                     conf::assign(out.max_bytes, r.size(sv, sl, name));
                   } else if (key == "max_age") {
                     conf::assign(out.max_age, r.duration(sv, sl, name));
                   } else {
                     ignored(r, sl, name, "a Prometheus server setting (its TSDB)");
                   }
                 });
}

}  // namespace

bool scraper_config::empty() const {
  return job_count() == 0 && remote_count() == 0;
}

std::size_t scraper_config::job_count() const {
  std::size_t n = 0;
  for (const auto& i : instances) n += i.jobs.size();
  return n;
}

std::size_t scraper_config::remote_count() const {
  std::size_t n = 0;
  for (const auto& i : instances) n += i.remotes.size();
  return n;
}

void read_top_level_key(conf::yaml_reader& r, std::string_view key, const YAML::Node& value, int line,
                        scraper_config& cfg) {
  if (key == "metrics") {
    cfg.agent_line = line;
    return read_metrics(r, value, line, cfg);
  }
  if (key == "storage") return read_storage(r, value, line, cfg.storage);
  if (key == "global" || key == "scrape_configs" || key == "remote_write") {
    if (cfg.prometheus_line == 0) cfg.prometheus_line = line;
    if (key == "global") return read_global(r, value, line, false, cfg);
    // The Prometheus shape's one instance, cited at its first key.
    auto& inst = default_instance(cfg, line);
    if (key == "scrape_configs") return read_jobs(r, value, line, inst);
    return read_remotes(r, value, line, inst.remotes);
  }
  ignored(r, line, key,
          key == "remote_read" ? "a Prometheus server setting (queries)"
                               : "a Prometheus server setting (rules, alerts, storage, tracing)");
}

void finish(conf::yaml_reader& r, scraper_config& cfg) {
  // Prometheus' GlobalConfig.UnmarshalYAML, then ScrapeConfig.Validate (the Agent's ApplyDefaults is the
  // same).
  auto& g = cfg.global;
  g.scrape_interval = cfg.raw_interval.count() != 0 ? cfg.raw_interval : std::chrono::milliseconds(1min);
  if (cfg.raw_timeout.count() != 0) {
    g.scrape_timeout = cfg.raw_timeout;  // check() reports one greater than the interval
  } else {
    g.scrape_timeout = std::min<std::chrono::milliseconds>(10s, g.scrape_interval);
  }
  for (auto& inst : cfg.instances) {
    for (auto& job : inst.jobs) {
      if (job.scrape_interval.count() == 0) job.scrape_interval = g.scrape_interval;
      if (job.scrape_timeout.count() == 0) {
        job.scrape_timeout = g.scrape_timeout > job.scrape_interval ? job.scrape_interval : g.scrape_timeout;
      }
    }
    if (cfg.agent_line > 0 && inst.remotes.empty()) inst.remotes = cfg.agent_global_remotes;
  }
  if (!cfg.wal_directory.empty()) {
    if (cfg.storage.path.empty()) {
      cfg.storage.path = cfg.wal_directory;
      r.warn(cfg.wal_directory_line, "'metrics.wal_directory' is used as storage.path: the remote-write spool");
    } else if (cfg.storage.path != cfg.wal_directory) {
      r.warn(cfg.wal_directory_line, "'metrics.wal_directory' is ignored: storage.path is set");
    }
  }
  std::vector<conf::config_error> errors;
  check(cfg, errors);
  for (auto& e : errors) r.error(e.line, std::move(e.message));
}

void check(const scraper_config& cfg, std::vector<conf::config_error>& errors) {
  if (cfg.agent_line > 0 && cfg.prometheus_line > 0) {
    errors.push_back({std::max(cfg.agent_line, cfg.prometheus_line),
                      "'metrics' (Grafana Agent's shape) and global/scrape_configs/remote_write (Prometheus' "
                      "shape) cannot be used together; use one of them"});
  }
  const auto& g = cfg.global;
  if (g.scrape_timeout > g.scrape_interval) {
    errors.push_back({g.line, "global scrape timeout greater than scrape interval"});
  }
  auto first_line = [](int line) { return " (first on line " + std::to_string(line) + ")"; };
  for (std::size_t i = 0; i < cfg.instances.size(); ++i) {
    const auto& inst = cfg.instances[i];
    for (std::size_t k = 0; k < i; ++k) {
      if (!inst.name.empty() && cfg.instances[k].name == inst.name) {
        errors.push_back({inst.line,
                          "prometheus instance names must be unique. found multiple instances with "
                          "name " +
                              inst.name + first_line(cfg.instances[k].line)});
        break;
      }
    }
    for (std::size_t j = 0; j < inst.jobs.size(); ++j) {
      const auto& job = inst.jobs[j];
      if (job.scrape_timeout > job.scrape_interval) {
        errors.push_back(
            {job.line, "scrape timeout greater than scrape interval for scrape config with job name \"" +
                           job.job_name + "\""});
      }
      for (std::size_t k = 0; k < j; ++k) {
        if (!job.job_name.empty() && inst.jobs[k].job_name == job.job_name) {
          errors.push_back({job.line, "found multiple scrape configs with job name \"" + job.job_name + "\"" +
                                          first_line(inst.jobs[k].line)});
          break;
        }
      }
    }
    for (std::size_t j = 0; j < inst.remotes.size(); ++j) {
      for (std::size_t k = 0; k < j; ++k) {
        if (!inst.remotes[j].name.empty() && inst.remotes[k].name == inst.remotes[j].name) {
          errors.push_back({inst.remotes[j].line, "found multiple remote write configs with name \"" +
                                                      inst.remotes[j].name + "\"" +
                                                      first_line(inst.remotes[k].line)});
          break;
        }
      }
    }
    // Prometheus would keep them in its TSDB; here scraped samples have nowhere else to go.
    if (!inst.jobs.empty() && inst.remotes.empty()) {
      errors.push_back({inst.line, "instance '" + inst.name +
                                       "' has scrape jobs but no remote_write to send their samples to"});
    }
  }
}

std::optional<std::size_t> parse_base2_bytes(std::string_view s) {
  if (s == "0") return 0;
  std::size_t digits = 0;
  while (digits < s.size() && ((s[digits] >= '0' && s[digits] <= '9') || s[digits] == '.')) ++digits;
  double n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, n);
  if (digits == 0 || ec != std::errc{} || ptr != s.data() + digits) return std::nullopt;
  struct unit {
    std::string_view a, b;  // the base-2 and the old spelling, both powers of 1024 in units.Base2Bytes
    double factor;
  };
  constexpr std::array<unit, 7> units = {{{"B", "B", 1},
                                          {"KiB", "KB", 0x1p10},
                                          {"MiB", "MB", 0x1p20},
                                          {"GiB", "GB", 0x1p30},
                                          {"TiB", "TB", 0x1p40},
                                          {"PiB", "PB", 0x1p50},
                                          {"EiB", "EB", 0x1p60}}};
  auto suffix = s.substr(digits);
  for (const auto& u : units) {
    if (suffix != u.a && suffix != u.b) continue;
    double bytes = n * u.factor;
    if (!(bytes < static_cast<double>(std::numeric_limits<std::size_t>::max()))) return std::nullopt;
    return static_cast<std::size_t>(bytes);
  }
  return std::nullopt;
}

}  // namespace sigv4::scraper
