#pragma once
// Reads one case of AWS's SigV4 test suite (tests/data/sigv4/v4/<case>/) as its raw bytes.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "signer/types.hpp"

namespace sigv4::test {

struct raw_header {
  std::string name;
  std::string value;  // continuation lines joined with '\n', as in the file
  std::string line;   // the header exactly as written, continuation lines included
};

struct suite_case {
  std::string name;
  std::string method, target;
  std::vector<raw_header> headers;
  std::string body;

  credentials creds;
  std::string region, service;
  std::chrono::sys_seconds time{};
  bool normalize = true;
  bool sign_body = false;
  bool omit_session_token = false;
  long expires = 0;

  std::optional<std::string> expected(const std::string& file) const;  // nullopt if the case lacks it
  std::filesystem::path dir;
};

std::filesystem::path suite_dir();
std::vector<std::string> suite_case_names();
suite_case load_case(const std::string& name);
std::string read_file(const std::filesystem::path& p);

}  // namespace sigv4::test
