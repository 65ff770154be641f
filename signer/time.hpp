#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sigv4 {

// "20150830T123600Z" (X-Amz-Date); the first 8 characters are the credential-scope date.
std::string format_amz_date(std::chrono::sys_seconds t);

// "2015-08-30T12:36:00Z": ISO 8601 as STS and IMDS write expirations.
std::string format_iso8601(std::chrono::sys_seconds t);

// Accepts the X-Amz-Date form and ISO 8601 "2015-08-30T12:36:00Z". Nothing else.
std::optional<std::chrono::sys_seconds> parse_amz_date(std::string_view s);

// An HTTP Date header (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"); the obsolete forms are refused.
std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s);

}  // namespace sigv4
