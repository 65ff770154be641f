#include "signer/time.hpp"

#include <array>

namespace sigv4 {
namespace {

bool read_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

void put(std::string& out, unsigned v, int width) {
  std::array<char, 8> buf{};
  for (int i = width - 1; i >= 0; --i) {
    buf[static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf.data(), static_cast<std::size_t>(width));
}

// The basic (20150830T123600Z) or the extended (2015-08-30T12:36:00Z) ISO 8601 form.
std::string format_utc(std::chrono::sys_seconds t, bool extended) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  std::string out;
  out.reserve(20);
  put(out, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  if (extended) out += '-';
  put(out, static_cast<unsigned>(ymd.month()), 2);
  if (extended) out += '-';
  put(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  put(out, static_cast<unsigned>(hms.hours().count()), 2);
  if (extended) out += ':';
  put(out, static_cast<unsigned>(hms.minutes().count()), 2);
  if (extended) out += ':';
  put(out, static_cast<unsigned>(hms.seconds().count()), 2);
  out += 'Z';
  return out;
}

}  // namespace

std::string format_amz_date(std::chrono::sys_seconds t) { return format_utc(t, false); }

std::string format_iso8601(std::chrono::sys_seconds t) { return format_utc(t, true); }

std::optional<std::chrono::sys_seconds> parse_amz_date(std::string_view s) {
  using namespace std::chrono;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  bool ok = false;
  if (s.size() == 16 && s[8] == 'T' && s[15] == 'Z') {  // 20150830T123600Z
    ok = read_digits(s, 0, 4, y) && read_digits(s, 4, 2, mo) && read_digits(s, 6, 2, d) &&
         read_digits(s, 9, 2, h) && read_digits(s, 11, 2, mi) && read_digits(s, 13, 2, se);
  } else if (s.size() == 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
             s[19] == 'Z') {  // 2015-08-30T12:36:00Z
    ok = read_digits(s, 0, 4, y) && read_digits(s, 5, 2, mo) && read_digits(s, 8, 2, d) &&
         read_digits(s, 11, 2, h) && read_digits(s, 14, 2, mi) && read_digits(s, 17, 2, se);
  }
  if (!ok || h > 23 || mi > 59 || se > 59) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
}

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view s) {
  using namespace std::chrono;
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  int d = 0, y = 0, h = 0, mi = 0, se = 0;
  unsigned mo = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == months[i]) mo = i + 1;
  }
  if (mo == 0 || !read_digits(s, 5, 2, d) || !read_digits(s, 12, 4, y) || !read_digits(s, 17, 2, h) ||
      !read_digits(s, 20, 2, mi) || !read_digits(s, 23, 2, se)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || se > 60) return std::nullopt;  // 60: a leap second, as RFC 9110 allows
  year_month_day ymd{year{y}, month{mo}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
}

}  // namespace sigv4
