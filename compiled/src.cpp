// The one translation unit of autointerp_compiled, the static library our own tests, examples and
// benchmarks link: Asio (with SSL), Beast and autointerp's out-of-line parts, each compiled once.
// It is the recipe the README's "Using the SDK" gives users who want the same build speed.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

#include <autointerp/src.hpp>
