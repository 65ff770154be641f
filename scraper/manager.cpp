#include "scraper/manager.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "net/tls.hpp"
#include "net/upstream.hpp"
#include "obs/log.hpp"
#include "scraper/file_sd.hpp"
#include "scraper/instance_spool.hpp"
#include "scraper/scrape_loop.hpp"
#include "scraper/sender.hpp"

namespace sigv4::scraper {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t initial_shards = 4;

// An instance's spool directory: its name, with anything but [A-Za-z0-9._-] as '_' (and never "." or "..").
std::string spool_dir_name(std::string_view instance) {
  std::string d;
  for (char c : instance) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    d.push_back(ok ? c : '_');
  }
  if (d.empty() || d == "." || d == "..") d = "_" + d;
  return d;
}

// A fingerprint of the settings that, when they change, make a sender or a job different.
void put(std::string& f, std::string_view s) {
  f += std::to_string(s.size());
  f += ':';
  f.append(s);
}
void put(std::string& f, std::int64_t n) {
  put(f, std::to_string(n));
}
void put(std::string& f, const labels& ls) {
  for (const auto& l : ls) {
    put(f, l.name);
    put(f, l.value);
  }
  f += '|';
}
void put(std::string& f, const std::vector<relabel_spec>& specs) {
  for (const auto& s : specs) {
    for (const auto& l : s.source_labels) put(f, l);
    put(f, s.separator);
    put(f, s.regex);
    put(f, static_cast<std::int64_t>(s.modulus));
    put(f, s.target_label);
    put(f, s.replacement);
    put(f, to_string(s.action));
    f += s.regex_set ? 'r' : '-';
  }
  f += '|';
}
void put(std::string& f, const tls_settings& t) {
  put(f, t.ca_file);
  put(f, t.cert_file);
  put(f, t.key_file);
  put(f, t.server_name);
  f += t.insecure_skip_verify ? 'i' : '-';
}
void put(std::string& f, const sigv4_settings& s) {
  f += s.enabled ? 's' : '-';
  put(f, s.region);
  put(f, s.service);
  put(f, s.access_key);
  put(f, s.profile);
  put(f, s.role_arn);
  put(f, s.external_id);
}
template <class Auth>
void put_auth(std::string& f, const std::optional<basic_auth_settings>& b, const std::optional<Auth>& a) {
  if (b) {
    put(f, b->username);
    put(f, b->password);
    put(f, b->password_file);
  }
  f += '|';
  if (a) {
    put(f, a->type);
    put(f, a->credentials);
    put(f, a->credentials_file);
  }
  f += '|';
}

std::string remote_fingerprint(const remote_write_settings& r, const labels& external) {
  std::string f;
  put(f, r.url);
  put(f, r.name);
  put(f, r.remote_timeout.count());
  for (const auto& [k, v] : r.headers) {
    put(f, k);
    put(f, v);
  }
  put(f, r.write_relabel_configs);
  const auto& q = r.queue;
  for (auto n : {q.capacity, q.min_shards, q.max_shards, q.max_samples_per_send})
    put(f, static_cast<std::int64_t>(n));
  for (auto d : {q.batch_send_deadline, q.min_backoff, q.max_backoff}) put(f, d.count());
  f += q.retry_on_http_429 ? 'y' : 'n';
  put(f, r.sigv4);
  put(f, r.tls);
  put_auth(f, r.basic_auth, r.authorization);
  put(f, external);
  return f;
}

// The remote_name label: the configured name, else the first 6 hex digits of a hash of the URL (Prometheus
// uses a hash of the whole remote config; ours stays stable across unrelated edits).
std::string remote_name(const remote_write_settings& r) {
  if (!r.name.empty()) return r.name;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(std::hash<std::string>{}(r.url)));
  return std::string(buf, 6);
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "0001-01-01T00:00:00Z";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

boost::json::object labels_json(const labels& ls) {
  boost::json::object o;
  for (const auto& l : ls) o[l.name] = l.value;
  return o;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

struct manager::impl {
  explicit impl(manager_deps d)
      : deps(std::move(d)),
        metrics(deps.registry),
        work(asio::make_work_guard(ioc)),
        svc{ioc.get_executor(), signing, metrics, {}, deps.user_agent, {}, deps.refresh_credentials} {
    svc.pool_for = [this](const net::upstream_key& key, asio::ssl::context* tls) -> net::upstream_pool& {
      auto& slot = pools[{key, tls}];
      if (!slot) {
        net::pool_settings ps{.max_idle = 8,
                              .idle_timeout = std::chrono::seconds(90),
                              .connect_timeout = std::chrono::seconds(10)};
        slot = std::make_unique<net::upstream_pool>(key, tls, ps, net::pool_metrics{});
      }
      return *slot;
    };
  }

  struct file_state {
    std::uint64_t stamp = 0;
    std::vector<target_group> groups;
  };
  struct job_state {
    std::shared_ptr<const scrape_job> cfg;
    std::shared_ptr<const job_runtime> rt;
    std::map<std::uint64_t, std::shared_ptr<scrape_loop>> loops;
    std::map<std::string, file_state> files;  // by path
    steady::time_point next_refresh{};
    std::size_t dropped = 0;
  };
  struct instance_state {
    std::vector<std::string> remote_fingerprints;
    std::vector<std::shared_ptr<remote_sender>> remotes;
    std::shared_ptr<instance_spool> spool;  // with storage.path
    std::shared_ptr<appender> out;          // the spool, or straight to the remotes' queues
    std::map<std::string, job_state> jobs;
  };

  manager_deps deps;
  scraper_metrics metrics;
  signer signing;
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
  scrape_services svc;
  std::map<std::string, std::unique_ptr<asio::ssl::context>> tls_contexts;  // by fingerprint
  std::map<std::pair<net::upstream_key, asio::ssl::context*>, std::unique_ptr<net::upstream_pool>> pools;
  std::map<std::string, instance_state> instances;
  mutable std::mutex view_mutex;  // instances' job and loop maps, for targets_json from other threads
  std::unique_ptr<asio::steady_timer> sd_timer;
  std::atomic<bool> starting{false};
  std::vector<std::unique_ptr<creds::credential_store>> static_stores;
  storage_settings storage;  // as started: a new path needs a restart
  bool storage_set = false;

  asio::ssl::context* tls_for(const tls_settings& t) {
    std::string f;
    put(f, t);
    auto& slot = tls_contexts[f];
    if (!slot) {
      net::tls_settings s = deps.default_tls;
      if (!t.ca_file.empty()) s.ca_file = t.ca_file;
      if (t.insecure_skip_verify) s.verify = false;
      s.cert_file = t.cert_file;
      s.key_file = t.key_file;
      slot =
          std::make_unique<asio::ssl::context>(net::make_client_tls_context(s));  // throws, naming the file
    }
    return slot.get();
  }

  std::string make_auth(const sigv4_settings& sv, const std::optional<basic_auth_settings>& basic,
                        const std::optional<authorization_settings>& authz, request_auth& out) {
    if (basic) {
      out.basic_user = basic->username;
      out.basic_password = basic->password;
      out.basic_password_file = basic->password_file;
    }
    if (authz && !sv.enabled) {
      out.authz_type = authz->type;
      out.authz_credentials = authz->credentials;
      out.authz_credentials_file = authz->credentials_file;
    }
    if (!sv.enabled) return {};
    out.sigv4 = true;
    out.region = sv.region;
    out.service = sv.service;
    if (!sv.access_key.empty()) {
      // Static keys from the file: a store of their own, never refreshed.
      auto store = std::make_unique<creds::credential_store>();
      auto snap = std::make_shared<creds::snapshot>();
      snap->creds = credentials{sv.access_key, sv.secret_key, {}};
      snap->provider = "static (config file)";
      store->publish(std::move(snap));
      out.store = store.get();
      static_stores.push_back(std::move(store));
      return {};
    }
    std::string error;
    out.store = deps.store_for ? deps.store_for(sv, error) : nullptr;
    if (out.store == nullptr) return error.empty() ? "no credentials for sigv4" : error;
    return {};
  }

  // Builds every runtime of cfg first (so a bad one changes nothing), then swaps them in.
  std::string apply(const scraper_config& cfg) {
    struct planned_instance {
      std::string name;
      std::vector<std::string> fingerprints;
      std::vector<remote_runtime> remotes;
      std::vector<std::pair<std::shared_ptr<const scrape_job>, job_runtime>> jobs;
    };
    std::vector<planned_instance> plan;
    try {
      for (const auto& inst : cfg.instances) {
        planned_instance p;
        p.name = inst.name;
        for (const auto& r : inst.remotes) {
          remote_runtime rt;
          rt.name = remote_name(r);
          rt.url_text = r.url;
          std::string problem;
          auto u = net::parse_url(r.url, &problem);
          if (!u) return "remote_write " + r.url + ": " + problem;
          rt.url = *u;
          rt.queue = r.queue;
          // Dynamic sharding starts from a few shards rather than min_shards (1 by default) and moves within
          // [min_shards, max_shards] from its first update, 10 s in: one shard sends one batch per round
          // trip (500 samples per ~50 ms to AMP), fewer than a thousand-target scraper makes.
          rt.start_shards = std::clamp<std::size_t>(initial_shards, std::max<std::size_t>(1, r.queue.min_shards),
                                                    std::max<std::size_t>(1, r.queue.max_shards));
          rt.timeout = r.remote_timeout;
          rt.headers = r.headers;
          rt.write_relabel = r.write_relabel;
          rt.external = cfg.global.external_labels;
          if (auto e = make_auth(r.sigv4, r.basic_auth, r.authorization, rt.auth); !e.empty())
            return "remote_write " + r.url + ": " + e;
          if (rt.url.scheme == "https") rt.tls = tls_for(r.tls);
          rt.server_name = r.tls.server_name;
          rt.refresh_credentials = deps.refresh_credentials;
          p.fingerprints.push_back(remote_fingerprint(r, cfg.global.external_labels));
          p.remotes.push_back(std::move(rt));
        }
        for (const auto& j : inst.jobs) {
          job_runtime jr;
          jr.name = j.job_name;
          jr.honor_labels = j.honor_labels;
          jr.honor_timestamps = j.honor_timestamps;
          jr.limits = {j.sample_limit, j.label_limit, j.label_name_length_limit, j.label_value_length_limit};
          jr.body_size_limit = j.body_size_limit;
          jr.follow_redirects = j.follow_redirects;
          jr.metric_relabel = j.metric_relabel;
          if (auto e = make_auth(j.sigv4, j.basic_auth, j.authorization, jr.auth); !e.empty())
            return "job " + j.job_name + ": " + e;
          jr.tls = tls_for(j.tls);
          jr.server_name = j.tls.server_name;
          p.jobs.emplace_back(std::make_shared<const scrape_job>(j), std::move(jr));
        }
        plan.push_back(std::move(p));
      }
    } catch (const std::exception& e) {
      return e.what();
    }

    if (!storage_set) {
      storage = cfg.storage;
      storage_set = true;
    } else if (cfg.storage.path != storage.path) {
      obs::warn("storage.path changes need a restart; the spool stays where it is",
                {{"path", storage.path}, {"new_path", cfg.storage.path}});
    }
    // Every instance's spool is opened before anything changes, so that one that can't open fails the
    // whole config.
    std::map<std::string, std::shared_ptr<instance_spool>> spools;
    if (!storage.path.empty()) {
      for (auto& p : plan) {
        std::vector<std::string> readers;
        for (auto& rt : p.remotes) {
          rt.reader = spool_reader_name(rt.name, rt.url_text);
          // The spool is there to lose nothing: a throttled batch waits (Retry-After, else the backoff)
          // rather than being dropped as retry_on_http_429: false would have it.
          rt.queue.retry_on_http_429 = true;
          readers.push_back(rt.reader);
        }
        auto old = instances.find(p.name);
        if (old != instances.end() && old->second.spool) {
          spools[p.name] = old->second.spool;
          continue;
        }
        std::string error;
        auto sp = instance_spool::open(ioc.get_executor(), p.name, storage.path + "/" + spool_dir_name(p.name),
                                       storage, readers, metrics, error);
        if (!sp) return error;
        sp->start();
        spools[p.name] = std::move(sp);
      }
    }

    std::map<std::string, instance_state> next;
    for (auto& p : plan) {
      auto old = instances.find(p.name);
      instance_state st;
      if (auto sp = spools.find(p.name); sp != spools.end()) st.spool = sp->second;
      if (old != instances.end() && old->second.remote_fingerprints == p.fingerprints) {
        st.remotes = old->second.remotes;
      } else {
        // Replaced senders with a spool stop at once and their replacements read again from the committed
        // position; without one they deliver what they hold for a few seconds beside the new ones.
        if (old != instances.end() && st.spool) {
          for (auto& s : old->second.remotes) s->stop();
          old->second.remotes.clear();
        }
        for (auto& rt : p.remotes) {
          rt.spool = st.spool;
          auto& pool = svc.pool_for({rt.url.scheme, rt.url.host, rt.url.port, rt.server_name}, rt.tls);
          auto sender = std::make_shared<remote_sender>(ioc.get_executor(), std::move(rt), pool, signing,
                                                        metrics, deps.user_agent);
          sender->start();
          st.remotes.push_back(std::move(sender));
        }
        if (old != instances.end()) retire(old->second.remotes);
      }
      st.remote_fingerprints = std::move(p.fingerprints);
      std::vector<std::shared_ptr<appender>> to(st.remotes.begin(), st.remotes.end());
      auto memory = std::make_shared<fanout>(std::move(to));
      if (st.spool) {
        std::vector<instance_spool::consumer> consumers;
        for (const auto& s : st.remotes) {
          const auto& rt = s->runtime();
          consumers.push_back({rt.reader, rt.name, rt.url_text, [w = std::weak_ptr<remote_sender>(s)] {
                                 if (auto p = w.lock()) p->wake_feed();
                               }});
        }
        st.spool->set_consumers(memory, std::move(consumers));
        st.out = st.spool;
      } else {
        st.out = memory;
      }
      for (auto& [cfgp, jr] : p.jobs) {
        jr.out = st.out;
        job_state js;
        if (old != instances.end()) {
          auto oj = old->second.jobs.find(cfgp->job_name);
          if (oj != old->second.jobs.end()) {
            js = std::move(oj->second);
            old->second.jobs.erase(oj);
          }
        }
        js.cfg = cfgp;
        js.rt = std::make_shared<const job_runtime>(std::move(jr));
        js.files.clear();
        js.next_refresh = {};
        st.jobs.emplace(cfgp->job_name, std::move(js));
      }
      if (old != instances.end()) {
        for (auto& [name, js] : old->second.jobs) stop_loops(js);  // jobs that are gone
        instances.erase(old);
      }
      next.emplace(p.name, std::move(st));
    }
    for (auto& [name, st] : instances) {  // instances that are gone
      for (auto& [jn, js] : st.jobs) stop_loops(js);
      if (st.spool) {
        for (auto& s : st.remotes) s->stop();  // what they had not delivered stays in the spool
        st.spool->stop();
      }
      retire(st.remotes);
    }
    {
      std::lock_guard lock(view_mutex);
      instances = std::move(next);
    }
    for (auto& [name, st] : instances) {
      for (auto& [jn, js] : st.jobs) sync_targets(js, true);
    }
    return {};
  }

  void retire(std::vector<std::shared_ptr<remote_sender>>& senders) {
    for (auto& s : senders) {
      asio::co_spawn(ioc, s->drain(steady::now() + std::chrono::seconds(5)), asio::detached);
    }
    senders.clear();
  }

  void stop_loops(job_state& js) {
    std::lock_guard lock(view_mutex);
    for (auto& [id, loop] : js.loops) loop->stop(true);
    js.loops.clear();
  }

  // Reads the job's file_sd files when they changed (or refresh_interval passed); true if any did.
  bool refresh_files(job_state& js, bool force) {
    bool changed = false;
    const auto now = steady::now();
    const bool due = force || now >= js.next_refresh;
    std::map<std::string, file_state> seen;
    for (const auto& sd : js.cfg->file_sd) {
      for (const auto& path : expand_file_sd(sd.files)) {
        auto stamp = file_stamp(path);
        auto old = js.files.find(path);
        if (old != js.files.end() && old->second.stamp == stamp && !due) {
          seen.emplace(path, std::move(old->second));
          continue;
        }
        file_state fs;
        fs.stamp = stamp;
        auto text = read_file(path);
        auto parsed = text ? parse_file_sd(path, *text) : file_sd_result{{}, "cannot read " + path};
        if (!parsed.error.empty()) {
          obs::warn("file_sd: keeping the previous targets of an invalid file",
                    {{"job", js.cfg->job_name}, {"error", parsed.error}});
          if (old != js.files.end()) fs.groups = old->second.groups;
        } else {
          fs.groups = std::move(parsed.groups);
        }
        changed = changed || old == js.files.end() || old->second.groups.size() != fs.groups.size() ||
                  stamp != old->second.stamp;
        seen.emplace(path, std::move(fs));
      }
    }
    if (seen.size() != js.files.size()) changed = true;
    js.files = std::move(seen);
    if (due && !js.cfg->file_sd.empty()) {
      auto every = js.cfg->file_sd.front().refresh_interval;
      for (const auto& sd : js.cfg->file_sd) every = std::min(every, sd.refresh_interval);
      js.next_refresh = now + every;
    }
    return changed;
  }

  void sync_targets(job_state& js, bool force) {
    refresh_files(js, force);
    const auto& j = *js.cfg;
    target_defaults d{.job_name = j.job_name,
                      .interval = j.scrape_interval,
                      .timeout = j.scrape_timeout,
                      .metrics_path = j.metrics_path,
                      .scheme = j.scheme,
                      .params = j.params,
                      .relabel = &j.relabel};
    std::map<std::uint64_t, scrape_target> want;
    std::size_t dropped = 0;
    auto add_group = [&](const target_group& g) {
      for (const auto& addr : g.targets) {
        auto r = populate(g.lbls, addr, d);
        if (!r.error.empty()) {
          obs::warn("target dropped: invalid", {{"job", j.job_name}, {"target", addr}, {"error", r.error}});
          ++dropped;
          continue;
        }
        if (!r.target) {
          ++dropped;
          continue;
        }
        auto id = r.target->identity();
        want.emplace(id, std::move(*r.target));
      }
    };
    for (const auto& g : j.static_configs) add_group(g);
    for (const auto& [path, fs] : js.files) {
      for (const auto& g : fs.groups) add_group(g);
    }
    if (j.target_limit != 0 && want.size() > j.target_limit) {
      obs::error("target_limit exceeded: no target of this job is scraped",
                 {{"job", j.job_name}, {"targets", want.size()}, {"limit", j.target_limit}});
      want.clear();
    }
    std::lock_guard lock(view_mutex);
    js.dropped = dropped;
    for (auto it = js.loops.begin(); it != js.loops.end();) {
      if (!want.contains(it->first)) {
        it->second->stop(true);
        it = js.loops.erase(it);
      } else {
        it->second->update_job(js.rt);
        ++it;
      }
    }
    for (auto& [id, t] : want) {
      if (js.loops.contains(id)) continue;
      auto loop = std::make_shared<scrape_loop>(svc, std::move(t), js.rt);
      loop->start();
      js.loops.emplace(id, std::move(loop));
    }
  }

  void poll_files() {
    sd_timer->expires_after(std::chrono::seconds(1));
    sd_timer->async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      for (auto& [name, st] : instances) {
        for (auto& [jn, js] : st.jobs) {
          if (js.cfg->file_sd.empty()) continue;
          if (refresh_files(js, false)) sync_targets(js, false);
        }
      }
      publish_target_counts();
      poll_files();
    });
  }

  void publish_target_counts() {
    std::lock_guard lock(view_mutex);
    for (auto& [name, st] : instances) {
      for (auto& [jn, js] : st.jobs) {
        std::size_t up = 0, down = 0, unknown = 0;
        for (auto& [id, loop] : js.loops) {
          auto h = loop->status().health;
          (h == "up" ? up : h == "down" ? down : unknown)++;
        }
        metrics.targets.with({jn, "up"}).set(static_cast<double>(up));
        metrics.targets.with({jn, "down"}).set(static_cast<double>(down));
        metrics.targets.with({jn, "unknown"}).set(static_cast<double>(unknown));
      }
    }
  }

  template <class F>
  auto on_thread(F f) {
    return asio::post(ioc, asio::use_future(std::move(f))).get();
  }
};

manager::manager(manager_deps deps) : impl_(std::make_unique<impl>(std::move(deps))) {}

manager::~manager() {
  shutdown(std::chrono::milliseconds(0));
}

std::string manager::start(const scraper_config& cfg) {
  auto& m = *impl_;
  m.starting = true;
  m.thread = std::thread([&m] { m.ioc.run(); });
  auto error = m.on_thread([&] {
    m.sd_timer = std::make_unique<asio::steady_timer>(m.ioc);
    auto e = m.apply(cfg);
    if (e.empty()) m.poll_files();
    return e;
  });
  m.starting = false;
  if (!error.empty()) {
    shutdown(std::chrono::milliseconds(0));
    return error;
  }
  std::size_t jobs = cfg.job_count(), remotes = cfg.remote_count();
  obs::info("scraper started",
            {{"jobs", jobs},
             {"remote_writes", remotes},
             {"delivery", cfg.storage.path.empty()
                              ? "in memory (no storage.path: what is undelivered at exit or in an outage "
                                "beyond queue_config.capacity is lost)"
                              : "spooled to " + cfg.storage.path}});
  return {};
}

std::string manager::reload(const scraper_config& cfg) {
  if (!impl_->thread.joinable()) return start(cfg);
  return impl_->on_thread([&] { return impl_->apply(cfg); });
}

void manager::shutdown(std::chrono::milliseconds grace) {
  auto& m = *impl_;
  if (!m.thread.joinable()) return;
  // Stop scraping (no end-of-run stale markers: the process goes away, as Prometheus does on shutdown), then
  // let every sender flush within the grace period.
  auto done = asio::co_spawn(
      m.ioc,
      [&m, grace]() -> asio::awaitable<void> {
        if (m.sd_timer) m.sd_timer->cancel();
        std::vector<std::shared_ptr<remote_sender>> senders;
        std::vector<std::shared_ptr<instance_spool>> spools;
        {
          std::lock_guard lock(m.view_mutex);
          for (auto& [name, st] : m.instances) {
            if (st.spool) spools.push_back(st.spool);
            for (auto& [jn, js] : st.jobs) {
              for (auto& [id, loop] : js.loops) loop->stop(false);
              js.loops.clear();
            }
            senders.insert(senders.end(), st.remotes.begin(), st.remotes.end());
          }
          m.instances.clear();
        }
        const auto until = steady::now() + grace;
        for (auto& s : senders) co_await s->drain(until);
        for (auto& sp : spools) sp->stop();  // the last sync: the readers' final positions
      },
      asio::use_future);
  done.wait();
  m.work.reset();
  m.ioc.stop();
  m.thread.join();
}

std::string manager::targets_json() const {
  auto& m = *impl_;
  boost::json::array active;
  {
    std::lock_guard lock(m.view_mutex);
    for (const auto& [name, st] : m.instances) {
      for (const auto& [jn, js] : st.jobs) {
        for (const auto& [id, loop] : js.loops) {
          const auto& t = loop->target();
          auto s = loop->status();
          boost::json::object o;
          o["discoveredLabels"] = labels_json(t.discovered);
          o["labels"] = labels_json(t.lbls);
          o["scrapePool"] = jn;
          o["scrapeUrl"] = t.url();
          o["globalUrl"] = t.url();
          o["lastError"] = s.last_error;
          o["lastScrape"] = iso_time(s.last_scrape);
          o["lastScrapeDuration"] = s.last_duration_seconds;
          o["health"] = s.health;
          o["scrapeInterval"] = format_duration(t.interval);
          o["scrapeTimeout"] = format_duration(t.timeout);
          active.push_back(std::move(o));
        }
      }
    }
  }
  boost::json::object data;
  data["activeTargets"] = std::move(active);
  data["droppedTargets"] = boost::json::array();
  boost::json::object root;
  root["status"] = "success";
  root["data"] = std::move(data);
  return boost::json::serialize(root);
}

std::string manager::not_ready_reason() const {
  // Not ready only between start() and its config being applied; a sidecar without scrape jobs never is.
  return impl_->starting ? std::string("the scraper is starting") : std::string();
}

}  // namespace sigv4::scraper
