#include "scraper/file_sd.hpp"

#include "scraper/relabel.hpp"

#include <glob.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "conf/values.hpp"

namespace sigv4::scraper {

file_sd_result parse_file_sd(const std::string& path, const std::string& content) {
  file_sd_result r;
  // As readFile: the extension in any case (the config allows .JSON, .YML, .YAML too).
  const auto dot = path.find_last_of("./");
  const std::string ext = dot != std::string::npos && path[dot] == '.' ? conf::lower(path.substr(dot)) : "";
  if (ext != ".json" && ext != ".yml" && ext != ".yaml") {
    r.error = path + ": unknown file extension (use .json, .yml or .yaml)";
    return r;
  }
  YAML::Node root;
  try {
    // JSON is read by the YAML parser too (a JSON document is YAML 1.2); both give the same tree.
    root = YAML::Load(content);
  } catch (const YAML::Exception& e) {
    r.error = path + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg;
    return r;
  }
  if (root.IsNull()) return r;
  if (!root.IsSequence()) {
    r.error = path + ": expected a list of target groups";
    return r;
  }
  std::size_t index = 0;
  for (const auto& g : root) {
    const int line = g.Mark().line + 1;
    auto fail = [&](std::string m) {
      r.error = path + ": line " + std::to_string(line) + ": " + std::move(m);
      r.groups.clear();
    };
    if (!g.IsMap()) {
      fail("a target group must be a mapping with 'targets' and 'labels'");
      return r;
    }
    target_group tg;
    tg.line = line;
    tg.source = path + ":" + std::to_string(index++);
    for (auto it = g.begin(); it != g.end(); ++it) {
      const std::string key = it->first.Scalar();
      // A copy: `it->second` lives in the iterator's proxy, gone at the end of the expression, so a range-for
      // over it reads a dead Node (ASan: stack-use-after-scope).
      const YAML::Node value = it->second;
      if (key == "targets") {
        if (!value.IsSequence() && !value.IsNull()) {
          fail("'targets' must be a list");
          return r;
        }
        for (const auto& t : value) {
          if (!t.IsScalar()) {
            fail("a target must be a string \"host:port\"");
            return r;
          }
          tg.targets.push_back(t.Scalar());
        }
      } else if (key == "labels") {
        if (!value.IsMap() && !value.IsNull()) {
          fail("'labels' must be a mapping");
          return r;
        }
        for (auto l = value.begin(); l != value.end(); ++l) {
          const std::string name = l->first.Scalar();
          if (!is_valid_label_name(name)) {
            fail("\"" + name + "\" is not a valid label name");
            return r;
          }
          if (!l->second.IsScalar() && !l->second.IsNull()) {
            fail("label " + name + " must have a string value");
            return r;
          }
          set(tg.lbls, name, l->second.IsNull() ? "" : l->second.Scalar());
        }
      } else {
        fail("unknown key '" + key + "' in a target group (targets, labels)");
        return r;
      }
    }
    // Targets are not checked for a scheme or path here (Prometheus' discovery/file does not): relabeling
    // may move a URL target into __param_target (the blackbox exporter pattern); populate checks the final
    // address.
    set(tg.lbls, "__meta_filepath", path);
    r.groups.push_back(std::move(tg));
  }
  return r;
}

std::vector<std::string> expand_file_sd(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns) {
    glob_t g{};
    if (::glob(p.c_str(), 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  std::ranges::sort(out);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::uint64_t file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return (static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + st.st_mtim.tv_nsec) ^
         (static_cast<std::uint64_t>(st.st_size) << 1) ^ st.st_ino;
}

}  // namespace sigv4::scraper
