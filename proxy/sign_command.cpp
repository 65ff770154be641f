#include "proxy/sign_command.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "net/url.hpp"
#include "signer/payload_hash.hpp"
#include "signer/signer.hpp"
#include "signer/time.hpp"

namespace sigv4::app {
namespace {

constexpr std::string_view usage =
    "usage: sigv4-sidecar sign --region R --service S [--method M] [--header 'Name: value']...\n"
    "           [--data TEXT | --data-file FILE] [--date 20150830T123600Z] [--unsigned-payload]\n"
    "           [--content-sha256-header] [--s3] [--omit-session-token] [--presign SECONDS]\n"
    "           [--print request|canonical|string-to-sign] URL\n";

struct options {
  std::string region, service, method = "GET", url, date, print = "request";
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> data;
  std::optional<std::string> data_file;
  bool unsigned_payload = false, content_sha256 = false, s3 = false, omit_token = false;
  std::optional<long> presign;
};

struct usage_error {
  std::string message;
};

bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

options parse(std::span<const std::string_view> args) {
  options o;
  auto value = [&](std::size_t& i) -> std::string {
    if (i + 1 >= args.size()) throw usage_error{std::string(args[i]) + " needs a value"};
    return std::string(args[++i]);
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--region") {
      o.region = value(i);
    } else if (a == "--service") {
      o.service = value(i);
    } else if (a == "--method") {
      o.method = value(i);
      if (!valid_token(o.method)) throw usage_error{"invalid --method '" + o.method + "'"};
    } else if (a == "--header" || a == "-H") {
      std::string h = value(i);
      auto colon = h.find(':');
      if (colon == std::string::npos) throw usage_error{"--header '" + h + "' must look like 'Name: value'"};
      std::string name = h.substr(0, colon);
      if (!valid_token(name)) throw usage_error{"invalid header name '" + name + "'"};
      if (h.find_first_of("\r\n", colon) != std::string::npos) {
        throw usage_error{"header '" + name + "' contains a line break"};
      }
      o.headers.emplace_back(std::move(name), trim(std::string_view(h).substr(colon + 1)));
    } else if (a == "--data") {
      o.data = value(i);
    } else if (a == "--data-file") {
      o.data_file = value(i);
    } else if (a == "--date") {
      o.date = value(i);
    } else if (a == "--unsigned-payload") {
      o.unsigned_payload = true;
    } else if (a == "--content-sha256-header") {
      o.content_sha256 = true;
    } else if (a == "--s3") {
      o.s3 = true;
    } else if (a == "--omit-session-token") {
      o.omit_token = true;
    } else if (a == "--presign") {
      std::string v = value(i);
      long n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || p != v.data() + v.size() || n < 1 || n > 604800) {
        throw usage_error{"--presign takes a number of seconds from 1 to 604800"};
      }
      o.presign = n;
    } else if (a == "--print") {
      o.print = value(i);
      if (o.print != "request" && o.print != "canonical" && o.print != "string-to-sign") {
        throw usage_error{"--print takes request, canonical or string-to-sign"};
      }
    } else if (a.starts_with("-") && a.size() > 1) {
      throw usage_error{"unknown flag " + std::string(a)};
    } else {
      if (!o.url.empty()) throw usage_error{"more than one URL given"};
      o.url = std::string(a);
    }
  }
  if (o.url.empty()) throw usage_error{"no URL given"};
  if (o.region.empty()) throw usage_error{"--region is required"};
  if (o.service.empty()) throw usage_error{"--service is required"};
  if (o.data && o.data_file) throw usage_error{"--data and --data-file are exclusive"};
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error{"cannot read --data-file " + path};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int run_sign(std::span<const std::string_view> args, const sign_io& io) {
  try {
    options o = parse(args);
    std::string url_error;
    auto u = net::parse_url(o.url, &url_error);
    if (!u) throw usage_error{"bad URL: " + url_error};

    std::chrono::sys_seconds when;
    if (o.date.empty()) {
      when = io.now();
    } else if (auto d = parse_amz_date(o.date)) {
      when = *d;
    } else {
      throw usage_error{"bad --date '" + o.date + "' (want 20150830T123600Z)"};
    }

    std::string body;
    if (o.data) body = *o.data;
    if (o.data_file) body = read_file(*o.data_file);

    std::string why;
    auto creds = io.get_credentials(why);
    if (!creds || creds->empty()) {
      throw usage_error{"no AWS credentials: " + (why.empty() ? std::string("the credential chain found none") : why)};
    }

    // Host comes from the URL unless the caller gave one; it goes first, like a client would send it.
    std::string host_value = u->host_header();
    std::vector<header> headers;
    bool has_host = false;
    for (const auto& [n, v] : o.headers) has_host = has_host || iequals(n, "host");
    if (!has_host) headers.push_back({"Host", host_value});
    for (const auto& [n, v] : o.headers) headers.push_back({n, v});

    const std::string payload_hash = o.unsigned_payload ? std::string(unsigned_payload) : sha256_hex(body);
    const header_policy policy = header_policy::all();
    signing_params params{.region = o.region,
                          .service = o.service,
                          .time = when,
                          .path = o.s3 ? path_rule::s3() : path_rule::standard(),
                          .payload_hash = payload_hash,
                          .content_sha256_header = o.content_sha256 || o.s3,
                          .omit_session_token = o.omit_token,
                          .policy = &policy};
    request_view req{o.method, u->target, headers};
    signer s;

    std::string target = u->target;
    std::vector<std::pair<std::string, std::string>> added;
    std::string canonical, sts;
    if (o.presign) {
      auto q = s.presign(req, *creds, params, std::chrono::seconds(*o.presign));
      target = q.signed_target(u->target);
      canonical = std::move(q.canonical_request);
      sts = std::move(q.string_to_sign);
    } else {
      auto h = s.sign_headers(req, *creds, params);
      for (auto& a : h.headers) added.emplace_back(std::move(a.name), std::move(a.value));
      canonical = std::move(h.canonical_request);
      sts = std::move(h.string_to_sign);
    }

    if (o.print == "canonical") {
      io.out << canonical << '\n';
    } else if (o.print == "string-to-sign") {
      io.out << sts << '\n';
    } else {
      std::ostringstream msg;
      msg << o.method << ' ' << target << " HTTP/1.1\n";
      for (const auto& h : headers) msg << h.name << ": " << h.value << '\n';
      for (const auto& [n, v] : added) msg << n << ": " << v << '\n';
      msg << '\n';
      io.out << msg.str();
    }
    return 0;
  } catch (const usage_error& e) {
    io.err << "sigv4-sidecar sign: " << e.message << '\n';
    if (e.message.find("credentials") == std::string::npos) io.err << usage;
    return 2;
  }
}

}  // namespace sigv4::app
