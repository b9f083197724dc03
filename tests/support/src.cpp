// The one translation unit that compiles Asio, Beast and autointerp's out-of-line parts for our
// tests, examples and benchmarks (separate-compilation mode).
#include <autointerp/src.hpp>
