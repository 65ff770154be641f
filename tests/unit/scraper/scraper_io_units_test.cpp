// The scraper's small pure helpers around I/O: gzip pages (Go's gzip.Reader reads concatenated members),
// AWS error bodies and their hints, and file_sd (Prometheus 2.42's discovery/file: readFile, the glob, the
// change stamp).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "scraper/aws_errors.hpp"
#include "scraper/file_sd.hpp"
#include "scraper/gzip.hpp"

namespace sigv4::scraper {
namespace {

// A gzip member of `s`, from zlib's deflate with the gzip wrapper.
std::string gzip(std::string_view s) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(s.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  zs.avail_in = static_cast<uInt>(s.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string big_page() {
  std::string page;
  for (int i = 0; i < 20000; ++i) page += "node_cpu_seconds_total{cpu=\"" + std::to_string(i) + "\"} 1\n";
  return page;
}

// --- gzip
// ---------------------------------------------------------------------------------------------------

TEST(gunzip, round_trip_of_a_page_much_larger_than_its_compressed_form) {
  const std::string page = big_page();
  std::string out = "stale content";
  EXPECT_EQ(gunzip(gzip(page), out, 0), "");
  EXPECT_EQ(out, page);
  EXPECT_EQ(gunzip(gzip(""), out, 0), "");
  EXPECT_EQ(out, "");
}

TEST(gunzip, body_size_limit) {
  const std::string page = big_page();
  const std::string z = gzip(page);
  std::string out;
  EXPECT_EQ(gunzip(z, out, page.size()), "");  // exactly at the limit is fine
  EXPECT_EQ(out, page);
  EXPECT_EQ(gunzip(z, out, page.size() - 1), "body size limit exceeded");
  EXPECT_LE(out.size(), page.size());  // never inflates far past the limit
  EXPECT_EQ(gunzip(z, out, 10), "body size limit exceeded");
  EXPECT_LE(out.size(), 11u);
}

TEST(gunzip, concatenated_members_are_one_page) {
  std::string out;
  EXPECT_EQ(gunzip(gzip("a 1\n") + gzip("b 2\n") + gzip(""), out, 0), "");
  EXPECT_EQ(out, "a 1\nb 2\n");
  // The limit counts the whole page, over members.
  EXPECT_EQ(gunzip(gzip("a 1\n") + gzip("b 2\n"), out, 7), "body size limit exceeded");
}

TEST(gunzip, garbage_truncation_and_trailing_junk_are_errors) {
  std::string out;
  EXPECT_NE(gunzip("this is not gzip", out, 0), "");
  EXPECT_NE(gunzip("", out, 0), "");  // Go: EOF reading the header
  const std::string z = gzip(big_page());
  EXPECT_EQ(gunzip(z.substr(0, z.size() / 2), out, 0), "gzip: unexpected end of data");
  EXPECT_NE(gunzip(z.substr(0, z.size() - 4), out, 0), "");  // the length trailer missing
  EXPECT_NE(gunzip(gzip("a 1\n") + "junk", out, 0), "");     // Go: gzip: invalid header
  std::string corrupt = gzip("a 1\nb 2\n");
  corrupt[corrupt.size() - 6] ^= 0x55;  // CRC32
  EXPECT_NE(gunzip(corrupt, out, 0), "");
}

// --- aws_errors
// ----------------------------------------------------------------------------------------------

TEST(aws_errors, api_gateway_missing_authentication_token) {
  auto e = explain_aws_error(403, R"({"message":"Missing Authentication Token"})");
  EXPECT_EQ(e.message, "Missing Authentication Token");
  EXPECT_NE(e.hint.find("metrics_path"), std::string::npos) << e.hint;
  EXPECT_NE(e.hint.find("not signed"), std::string::npos) << e.hint;
}

TEST(aws_errors, signature_mismatch) {
  auto e = explain_aws_error(
      403, R"({"message":"The request signature we calculated does not match the signature you )"
           R"(provided. Check your AWS Secret Access Key and signing method. Consult the service )"
           R"(documentation for details."})");
  EXPECT_TRUE(e.message.starts_with("The request signature we calculated does not match")) << e.message;
  EXPECT_NE(e.hint.find("sigv4.region"), std::string::npos) << e.hint;
  EXPECT_NE(e.hint.find("execute-api"), std::string::npos) << e.hint;
}

TEST(aws_errors, signature_expired_points_at_the_clock) {
  auto e = explain_aws_error(
      403, R"x({"message":"Signature expired: 20230101T000000Z is now earlier than 20230101T000500Z )x"
           R"x((20230101T000000Z - 5 min.)"})x");
  EXPECT_TRUE(e.message.starts_with("Signature expired: 20230101T000000Z")) << e.message;
  EXPECT_NE(e.hint.find("clock"), std::string::npos) << e.hint;
  EXPECT_NE(e.hint.find("doctor"), std::string::npos) << e.hint;
  EXPECT_NE(explain_aws_error(
                403, R"({"message":"Signature not yet current: 20300101T000000Z is still later than ..."})")
                .hint.find("clock"),
            std::string::npos);
}

TEST(aws_errors, not_authorized_names_action_and_resource) {
  // API Gateway writes this one with a capital M.
  auto e = explain_aws_error(
      403,
      R"({"Message":"User: arn:aws:sts::123456789012:assumed-role/scraper/i-0abc is not authorized to perform: )"
      R"(execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********9012:a1b2c3d4e5/prod/GET/metrics"})");
  EXPECT_EQ(
      e.hint,
      "allow execute-api:Invoke on arn:aws:execute-api:us-east-1:********9012:a1b2c3d4e5/prod/GET/metrics in "
      "this identity's IAM policy");
  // A resource policy's explicit deny: the ARN alone, and no advice to add an allow.
  auto d = explain_aws_error(
      403,
      R"({"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: )"
      R"(arn:aws:execute-api:us-east-1:********9012:a1b2c3d4e5/prod/GET/metrics with an explicit deny"})");
  EXPECT_EQ(d.hint,
            "a policy (IAM, or the API's resource policy) explicitly denies execute-api:Invoke on "
            "arn:aws:execute-api:us-east-1:********9012:a1b2c3d4e5/prod/GET/metrics");
  // AMP's wording, with a trailing period.
  auto a =
      explain_aws_error(403, R"({"message":"User: arn:aws:iam::1:user/x is not authorized to perform: )"
                             R"(aps:RemoteWrite on resource: arn:aws:aps:us-east-1:1:workspace/ws-1."})");
  EXPECT_EQ(a.hint,
            "allow aps:RemoteWrite on arn:aws:aps:us-east-1:1:workspace/ws-1 in this identity's IAM policy");
}

TEST(aws_errors, expired_token_in_xml_and_json) {
  auto x =
      explain_aws_error(400,
                        "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
                        "<Message>The security token included in the request is expired</Message></Error>"
                        "</ErrorResponse>");
  EXPECT_EQ(x.message, "The security token included in the request is expired");
  EXPECT_NE(x.hint.find("expired"), std::string::npos) << x.hint;
  auto j = explain_aws_error(403, R"({"message":"The security token included in the request is expired"})");
  EXPECT_EQ(j.hint, x.hint);
  auto inv =
      explain_aws_error(403, R"({"message":"The security token included in the request is invalid."})");
  EXPECT_NE(inv.hint.find("doctor"), std::string::npos) << inv.hint;
}

TEST(aws_errors, messages_are_one_line_and_unescaped) {
  auto e = explain_aws_error(500, "{\"message\": \"a \\\"quoted\\\" word\\nnext line\"}");
  EXPECT_EQ(e.message, "a \"quoted\" word next line");
  EXPECT_EQ(e.hint, "");
  auto x = explain_aws_error(500, "<Error><Message>line one\nline two</Message></Error>");
  EXPECT_EQ(x.message, "line one line two");
  auto long_one = explain_aws_error(500, "{\"message\":\"" + std::string(1000, 'x') + "\"}");
  EXPECT_EQ(long_one.message.size(), 300u);
}

TEST(aws_errors, unknown_bodies) {
  EXPECT_EQ(explain_aws_error(500, "<html>oops</html>").message, "");
  EXPECT_EQ(explain_aws_error(500, "<html>oops</html>").hint, "");
  EXPECT_NE(explain_aws_error(403, "").hint.find("resource policy"), std::string::npos);
  EXPECT_EQ(explain_aws_error(404, "").hint, "");
  EXPECT_EQ(explain_aws_error(403, R"({"message":"Forbidden"})").hint, "");
}

TEST(aws_errors, describe_http_failure_in_prometheus_words) {
  EXPECT_EQ(describe_http_failure(503, ""), "server returned HTTP status 503 Service Unavailable");
  EXPECT_EQ(describe_http_failure(418, "teapot"), "server returned HTTP status 418");
  const auto d = describe_http_failure(403, R"({"message":"Missing Authentication Token"})");
  EXPECT_TRUE(
      d.starts_with("server returned HTTP status 403 Forbidden: Missing Authentication Token (hint: "))
      << d;
  EXPECT_TRUE(d.ends_with(")"));
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(299), "");
}

// --- file_sd
// ------------------------------------------------------------------------------------------------

TEST(file_sd, json_groups) {
  auto r = parse_file_sd("/etc/sd/a.json", R"([
    {"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod", "team": "x"}},
    {"targets": ["h3:9100"]}
  ])");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].targets, (std::vector<std::string>{"h1:9100", "h2:9100"}));
  EXPECT_EQ(get(r.groups[0].lbls, "env"), "prod");
  EXPECT_EQ(get(r.groups[0].lbls, "team"), "x");
  EXPECT_EQ(get(r.groups[0].lbls, "__meta_filepath"), "/etc/sd/a.json");
  EXPECT_EQ(get(r.groups[1].lbls, "__meta_filepath"),
            "/etc/sd/a.json");                        // a group without labels gets it too
  EXPECT_EQ(r.groups[0].source, "/etc/sd/a.json:0");  // fileSource(filename, i)
  EXPECT_EQ(r.groups[1].source, "/etc/sd/a.json:1");
}

TEST(file_sd, yaml_groups_and_upper_case_extensions) {
  const std::string yaml = "- targets: ['h1:1']\n  labels:\n    a: b\n- targets:\n  - h2:2\n";
  for (std::string path : {"x.yml", "x.yaml", "x.YML", "x.YAML"}) {
    auto r = parse_file_sd(path, yaml);
    ASSERT_EQ(r.error, "") << path;
    ASSERT_EQ(r.groups.size(), 2u);
    EXPECT_EQ(get(r.groups[0].lbls, "a"), "b");
    EXPECT_EQ(r.groups[1].targets, std::vector<std::string>{"h2:2"});
  }
  // config accepts *.JSON (patFileSDName), and readFile lowercases the extension.
  EXPECT_EQ(parse_file_sd("x.JSON", R"([{"targets": ["h:1"]}])").error, "");
  EXPECT_NE(parse_file_sd("x.txt", "[]").error, "");
  EXPECT_NE(parse_file_sd("json", "[]").error, "");
}

TEST(file_sd, an_empty_file_has_no_groups) {
  for (const char* c : {"", "[]", "# nothing\n"}) {
    auto r = parse_file_sd("e.yml", c);
    EXPECT_EQ(r.error, "") << c;
    EXPECT_TRUE(r.groups.empty());
  }
}

TEST(file_sd, url_targets_are_left_to_relabeling) {
  // discovery/file does not check addresses (only static_configs without relabel_configs are checked): the
  // blackbox exporter's pattern moves the URL into __param_target.
  auto r = parse_file_sd("probe.json", R"([{"targets": ["https://example.com/health"]}])");
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].targets[0], "https://example.com/health");
}

TEST(file_sd, bad_files_name_the_file_and_keep_no_groups) {
  const std::pair<const char*, const char*> bad[] = {
      {"b.json", R"([{"targets": ["h:1"]}, {"targets": "h:2"}])"},       // targets not a list
      {"b.json", R"([{"targets": ["h:1"], "labels": {"0bad": "x"}}])"},  // invalid label name
      {"b.json", R"([{"targets": ["h:1"], "lables": {}}])"},      // unknown key (DisallowUnknownFields)
      {"b.json", R"({"targets": ["h:1"]})"},                      // not a list of groups
      {"b.json", R"([{"targets": ["h:1"]})"},                     // syntax
      {"b.yml", "- targets: [h:1]\n  labels: [a, b]\n"},          // labels not a mapping
      {"b.yml", "- null\n"},                                      // nil target group item
      {"b.yml", "- targets: [[nested]]\n"},                       // a target that is not a string
      {"b.yml", "- targets: [h:1]\n  labels:\n    a: {x: 1}\n"},  // a label value that is not a string
  };
  for (const auto& [path, content] : bad) {
    auto r = parse_file_sd(path, content);
    EXPECT_NE(r.error, "") << content;
    EXPECT_TRUE(r.error.starts_with(path)) << r.error;
    EXPECT_TRUE(r.groups.empty()) << content;
  }
  auto line = parse_file_sd("l.yml", "- targets: [h:1]\n- targets: [h:2]\n  labels:\n    9x: y\n");
  EXPECT_TRUE(line.error.starts_with("l.yml: line 2: ")) << line.error;
}

class file_sd_dir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "file_sd_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    auto p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(file_sd_dir, globbing_the_last_path_element) {
  auto a = write("a.json", "[]");
  auto b = write("b.json", "[]");
  write("c.yml", "[]");
  write("d.json.bak", "[]");
  std::filesystem::create_directory(dir_ / "sub");
  write("sub/e.json", "[]");
  const std::string d = dir_.string();
  EXPECT_EQ(expand_file_sd({d + "/*.json"}), (std::vector<std::string>{a, b}));
  // Sorted and without duplicates over patterns; a plain path is itself; a missing one is nothing.
  auto all = expand_file_sd({d + "/c.yml", d + "/*.json", d + "/a.json", d + "/missing.json", d + "/*.yaml"});
  EXPECT_EQ(all, (std::vector<std::string>{a, b, d + "/c.yml"}));
  EXPECT_TRUE(expand_file_sd({}).empty());
}

TEST_F(file_sd_dir, file_stamp_changes_with_the_file) {
  auto p = write("t.json", R"([{"targets": ["h:1"]}])");
  const auto s1 = file_stamp(p);
  EXPECT_NE(s1, 0u);
  EXPECT_EQ(file_stamp(p), s1);  // unchanged file, same stamp
  write("t.json", R"([{"targets": ["h:1", "h:2"]}])");
  const auto s2 = file_stamp(p);
  EXPECT_NE(s2, s1);  // size changed
  // Same size, new mtime: set it explicitly, as two writes may share a timestamp granule.
  write("t.json", R"([{"targets": ["h:3", "h:4"]}])");
  std::filesystem::last_write_time(p, std::filesystem::last_write_time(p) + std::chrono::seconds(5));
  EXPECT_NE(file_stamp(p), s2);
  // Replaced by rename (how config management tools write): another inode.
  auto tmp = write("t.json.tmp", R"([{"targets": ["h:3", "h:4"]}])");
  const auto s3 = file_stamp(p);
  std::filesystem::rename(tmp, p);
  std::filesystem::last_write_time(p, std::filesystem::last_write_time(p) + std::chrono::seconds(5));
  EXPECT_NE(file_stamp(p), s3);
  EXPECT_EQ(file_stamp((dir_ / "missing.json").string()), 0u);
}

TEST_F(file_sd_dir, read_and_parse_a_globbed_file) {
  write("g.yaml", "- targets: ['x:1']\n  labels: {k: v}\n");
  auto files = expand_file_sd({dir_.string() + "/*.yaml"});
  ASSERT_EQ(files.size(), 1u);
  std::ifstream in(files[0]);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = parse_file_sd(files[0], content);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(get(r.groups[0].lbls, "__meta_filepath"), files[0]);
  EXPECT_EQ(get(r.groups[0].lbls, "k"), "v");
}

}  // namespace
}  // namespace sigv4::scraper
