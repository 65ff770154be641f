#include "proxy/config.hpp"

#include <gtest/gtest.h>

TEST(config, placeholder_until_written) { SUCCEED(); }
