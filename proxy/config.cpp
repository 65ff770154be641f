// Placeholder: being written (config parsing, flags, inference, check-config).
#include "proxy/config.hpp"
