// One entry of scrape_configs: Prometheus 2.42's ScrapeConfig keys that a sidecar can honour, `sigv4:`, and
// by-name refusals of the rest (service discovery other than static and file, proxies, native histograms).
#include <algorithm>
#include <limits>

#include "scraper/config_detail.hpp"

namespace sigv4::scraper::detail {
namespace {

using conf::quote;

// Every *_sd_configs Prometheus 2.42 knows but static_configs and file_sd_configs.
constexpr std::string_view other_sd[] = {
    "azure_sd_configs",       "consul_sd_configs",   "digitalocean_sd_configs", "docker_sd_configs",
    "dockerswarm_sd_configs", "dns_sd_configs",      "ec2_sd_configs",          "eureka_sd_configs",
    "gce_sd_configs",         "hetzner_sd_configs",  "http_sd_configs",         "ionos_sd_configs",
    "kubernetes_sd_configs",  "kuma_sd_configs",     "lightsail_sd_configs",    "linode_sd_configs",
    "marathon_sd_configs",    "nerve_sd_configs",    "nomad_sd_configs",        "openstack_sd_configs",
    "ovhcloud_sd_configs",    "puppetdb_sd_configs", "scaleway_sd_configs",     "serverset_sd_configs",
    "triton_sd_configs",      "uyuni_sd_configs",    "vultr_sd_configs"};

// Scrape options of Prometheus (2.42 or later) that the bundled scraper does not implement.
constexpr std::string_view unsupported[] = {"native_histogram_bucket_limit",
                                            "native_histogram_min_bucket_factor",
                                            "scrape_classic_histograms",
                                            "scrape_native_histograms",
                                            "always_scrape_classic_histograms",
                                            "convert_classic_histograms_to_nhcb",
                                            "keep_dropped_targets",
                                            "enable_compression",
                                            "scrape_protocols",
                                            "fallback_scrape_protocol",
                                            "track_timestamps_staleness",
                                            "metric_name_validation_scheme",
                                            "metric_name_escaping_scheme",
                                            "scrape_failure_log_file",
                                            "extra_scrape_metrics"};

const std::vector<std::string_view>& job_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> k = {"job_name",
                                       "honor_labels",
                                       "honor_timestamps",
                                       "params",
                                       "scrape_interval",
                                       "scrape_timeout",
                                       "metrics_path",
                                       "scheme",
                                       "body_size_limit",
                                       "sample_limit",
                                       "target_limit",
                                       "label_limit",
                                       "label_name_length_limit",
                                       "label_value_length_limit",
                                       "static_configs",
                                       "file_sd_configs",
                                       "relabel_configs",
                                       "metric_relabel_configs",
                                       "sigv4"};
    k.insert(k.end(), http_client_keys.begin(), http_client_keys.end());
    k.insert(k.end(), std::begin(other_sd), std::end(other_sd));
    k.insert(k.end(), std::begin(unsupported), std::end(unsupported));
    return k;
  }();
  return keys;
}

// discovery/file's patFileSDName: ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$
bool valid_file_sd_name(std::string_view name) {
  auto star = name.find('*');
  if (star != std::string_view::npos && (name.find('*', star + 1) != std::string_view::npos ||
                                         name.find('/', star) != std::string_view::npos)) {
    return false;
  }
  for (std::string_view ext : {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"}) {
    if (name.size() > ext.size() - 1 && name.ends_with(ext)) return true;
  }
  return false;
}

void read_params(yaml_reader& r, const YAML::Node& v, int line, scrape_job& job) {
  if (v.IsNull()) return;
  if (!v.IsMap())
    return r.error(yaml_reader::line_of(v, line), "'params' must be a mapping of name to a list of values");
  for (auto it = v.begin(); it != v.end(); ++it) {
    int pl = yaml_reader::line_of(it->first, line);
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    if (name.empty()) {
      r.error(pl, "'params': names must be plain words");
      continue;
    }
    if (!it->second.IsNull() && !it->second.IsSequence()) {
      r.error(pl, "'params." + name + "' must be a list of values (e.g. [" + name + "_value])");
      continue;
    }
    if (auto values = r.strings(it->second, pl, "params." + name)) {
      for (auto& value : *values) job.params.emplace_back(name, std::move(value));
    }
  }
}

void read_static(yaml_reader& r, const YAML::Node& v, int line, scrape_job& job,
                 std::vector<std::pair<std::string, int>>& target_lines) {
  r.for_each_element(v, line, "static_configs", [&](const YAML::Node& e, int el) {
    target_group g;
    g.line = el;
    g.source = std::to_string(job.static_configs.size());
    r.for_each_key(e, el, "static_configs", {"targets", "labels"},
                   [&](std::string_view key, const YAML::Node& gv, int gl) {
                     if (key == "labels") return read_labels(r, gv, gl, "labels", g.lbls);
                     r.for_each_element(gv, gl, "targets", [&](const YAML::Node& t, int tl) {
                       auto s = r.string(t, tl, "targets");
                       if (!s) return;
                       target_lines.emplace_back(*s, tl);
                       g.targets.push_back(std::move(*s));
                     });
                   });
    job.static_configs.push_back(std::move(g));
  });
}

void read_file_sd(yaml_reader& r, const YAML::Node& v, int line, scrape_job& job) {
  r.for_each_element(v, line, "file_sd_configs", [&](const YAML::Node& e, int el) {
    file_sd_settings f;
    f.line = el;
    bool listed = false;
    r.for_each_key(e, el, "file_sd_configs", {"files", "refresh_interval"},
                   [&](std::string_view key, const YAML::Node& fv, int fl) {
                     if (key == "refresh_interval") {
                       auto d = r.duration(fv, fl, "refresh_interval");
                       if (d && d->count() == 0)
                         return r.error(fl, "'refresh_interval' must be greater than 0");
                       return conf::assign(f.refresh_interval, d);
                     }
                     r.for_each_element(fv, fl, "files", [&](const YAML::Node& n, int nl) {
                       listed = true;
                       auto s = r.string(n, nl, "files");
                       if (!s) return;
                       if (!valid_file_sd_name(*s)) {
                         return r.error(nl,
                                        "path name \"" + *s +
                                            "\" is not valid for file discovery (it must end in .json, .yml "
                                            "or .yaml, with at most one '*' in the last part)");
                       }
                       f.files.push_back(std::move(*s));
                     });
                   });
    if (!listed) r.error(el, "file service discovery config must contain at least one path name");
    job.file_sd.push_back(std::move(f));
  });
}

void read_limit(yaml_reader& r, const YAML::Node& v, int line, std::string_view key, std::size_t& out) {
  conf::assign(out, r.integer(v, line, key, 0, std::numeric_limits<std::uint32_t>::max()));
}

// Region and service a scrape job's targets leave to inference: decided now for static targets that are all
// non-AWS hosts (no host can tell); file_sd targets are only known at run time.
void check_job_sigv4(yaml_reader& r, const scrape_job& job) {
  const auto& s = job.sigv4;
  if (!s.enabled || !job.file_sd.empty() || (!s.region.empty() && !s.service.empty())) return;
  bool any_target = false;
  for (const auto& g : job.static_configs) {
    for (const auto& t : g.targets) {
      any_target = true;
      if (conf::infer_sigv4(t)) return;
    }
  }
  if (!any_target) return;
  std::string missing = s.region.empty() && s.service.empty() ? "sigv4.region and sigv4.service"
                        : s.region.empty()                    ? "sigv4.region"
                                                              : "sigv4.service";
  r.error(s.line, "scrape job '" + job.job_name + "': cannot infer the signing region and service, none of " +
                      "its targets is an AWS host; set " + missing);
}

}  // namespace

scrape_job read_job(yaml_reader& r, const YAML::Node& node, int line) {
  scrape_job job;
  job.line = line;
  http_client client;
  std::vector<std::pair<std::string, int>> target_lines;
  bool named = false;
  if (node.IsNull()) {
    r.error(line, "empty or null scrape config section");
    return job;
  }
  r.for_each_key(
      node, line, "scrape_configs", job_keys(), [&](std::string_view key, const YAML::Node& v, int kl) {
        if (key == "job_name") {
          named = true;
          conf::assign(job.job_name, r.string(v, kl, key));
          if (job.job_name.empty()) r.error(kl, "job_name is empty");
        } else if (key == "honor_labels") {
          conf::assign(job.honor_labels, r.boolean(v, kl, key));
        } else if (key == "honor_timestamps") {
          conf::assign(job.honor_timestamps, r.boolean(v, kl, key));
        } else if (key == "params") {
          read_params(r, v, kl, job);
        } else if (key == "scrape_interval" || key == "scrape_timeout") {
          conf::assign(key == "scrape_interval" ? job.scrape_interval : job.scrape_timeout,
                       r.duration(v, kl, key));
        } else if (key == "metrics_path") {
          auto s = r.string(v, kl, key);
          if (s && !s->starts_with('/'))
            return r.error(kl, "'metrics_path' must start with '/', not '" + *s + "'");
          conf::assign(job.metrics_path, s);
        } else if (key == "scheme") {
          auto s = r.string(v, kl, key);
          if (s && *s != "http" && *s != "https")
            return r.error(kl, "'scheme' must be http or https, not '" + *s + "'");
          conf::assign(job.scheme, s);
        } else if (key == "body_size_limit") {
          auto s = r.string(v, kl, key);
          if (!s) return;
          auto n = parse_base2_bytes(*s);
          if (!n)
            return r.error(kl, "'body_size_limit': invalid size '" + *s + "' (use e.g. 10MB, 16MiB, 512KB)");
          job.body_size_limit = *n;
        } else if (key == "sample_limit") {
          read_limit(r, v, kl, key, job.sample_limit);
        } else if (key == "target_limit") {
          read_limit(r, v, kl, key, job.target_limit);
        } else if (key == "label_limit") {
          read_limit(r, v, kl, key, job.label_limit);
        } else if (key == "label_name_length_limit") {
          read_limit(r, v, kl, key, job.label_name_length_limit);
        } else if (key == "label_value_length_limit") {
          read_limit(r, v, kl, key, job.label_value_length_limit);
        } else if (key == "static_configs") {
          read_static(r, v, kl, job, target_lines);
        } else if (key == "file_sd_configs") {
          read_file_sd(r, v, kl, job);
        } else if (key == "relabel_configs") {
          read_relabel_list(r, v, kl, key, true, job.relabel_configs, job.relabel);
        } else if (key == "metric_relabel_configs") {
          read_relabel_list(r, v, kl, key, false, job.metric_relabel_configs, job.metric_relabel);
        } else if (key == "sigv4") {
          read_sigv4(r, v, kl, client.sigv4);
        } else if (key.ends_with("_sd_configs")) {
          r.error(kl, quote(key) +
                          " is not supported: use file_sd_configs, or run Prometheus with this sidecar as "
                          "its proxy_url");
        } else if (std::ranges::find(unsupported, key) != std::end(unsupported)) {
          r.error(kl, quote(key) + " is not supported by the bundled scraper");
        } else {
          read_http_client_key(r, key, v, kl, client);
        }
      });
  if (!named) r.error(line, "job_name is empty");
  check_http_client(r, client, line);
  job.tls = std::move(client.tls);
  job.basic_auth = std::move(client.basic_auth);
  job.authorization = std::move(client.authorization);
  job.follow_redirects = client.follow_redirects;
  job.sigv4 = std::move(client.sigv4);
  // As Prometheus: relabeling may rewrite __address__, so only targets that stay as written are checked.
  if (job.relabel_configs.empty()) {
    for (const auto& [t, tl] : target_lines) {
      if (t.find('/') != std::string::npos) {
        r.error(tl, "\"" + t +
                        "\" is not a valid hostname: targets are host:port; put the scheme in 'scheme' "
                        "and the path in 'metrics_path'");
      }
    }
  }
  check_job_sigv4(r, job);
  return job;
}

}  // namespace sigv4::scraper::detail
