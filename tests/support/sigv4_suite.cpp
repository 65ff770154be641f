#include "tests/support/sigv4_suite.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "signer/time.hpp"

namespace sigv4::test {

std::filesystem::path suite_dir() { return std::filesystem::path(SIGV4_TEST_DATA_DIR) / "sigv4" / "v4"; }

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> suite_case_names() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(suite_dir())) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> suite_case::expected(const std::string& file) const {
  auto p = dir / file;
  if (!std::filesystem::exists(p)) return std::nullopt;
  return read_file(p);
}

suite_case load_case(const std::string& name) {
  suite_case c;
  c.name = name;
  c.dir = suite_dir() / name;
  std::string req = read_file(c.dir / "request.txt");
  std::string head = req;
  if (auto blank = req.find("\n\n"); blank != std::string::npos) {
    head = req.substr(0, blank);
    c.body = req.substr(blank + 2);
  }
  if (!head.empty() && head.back() == '\n') head.pop_back();

  std::vector<std::string> lines;
  for (std::size_t start = 0; start <= head.size();) {
    auto end = head.find('\n', start);
    if (end == std::string::npos) end = head.size();
    lines.push_back(head.substr(start, end - start));
    start = end + 1;
  }
  // Request line: METHOD SP target SP HTTP/1.1, where the target may itself hold spaces.
  const std::string& rl = lines.at(0);
  auto first = rl.find(' ');
  auto last = rl.rfind(' ');
  c.method = rl.substr(0, first);
  c.target = rl.substr(first + 1, last - first - 1);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (!l.empty() && (l[0] == ' ' || l[0] == '\t')) {  // obs-fold continuation
      c.headers.back().value += "\n" + l;
      c.headers.back().line += "\n" + l;
      continue;
    }
    auto colon = l.find(':');
    c.headers.push_back({l.substr(0, colon), l.substr(colon + 1), l});
  }

  auto ctx = boost::json::parse(read_file(c.dir / "context.json")).as_object();
  const auto& cr = ctx.at("credentials").as_object();
  c.creds.access_key_id = cr.at("access_key_id").as_string().c_str();
  c.creds.secret_access_key = cr.at("secret_access_key").as_string().c_str();
  if (auto* t = cr.if_contains("token")) c.creds.session_token = t->as_string().c_str();
  c.region = ctx.at("region").as_string().c_str();
  c.service = ctx.at("service").as_string().c_str();
  c.time = parse_amz_date(ctx.at("timestamp").as_string().c_str()).value();
  c.normalize = ctx.at("normalize").as_bool();
  c.sign_body = ctx.at("sign_body").as_bool();
  if (auto* o = ctx.if_contains("omit_session_token")) c.omit_session_token = o->as_bool();
  c.expires = ctx.at("expiration_in_seconds").to_number<long>();
  return c;
}

}  // namespace sigv4::test
