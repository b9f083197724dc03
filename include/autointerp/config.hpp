#pragma once
// Build configuration shared by every header.
//
// Header-only by default. With AUTOINTERP_SEPARATE_COMPILATION the out-of-line parts are compiled
// once, in the translation unit that includes <autointerp/src.hpp>; every other translation unit
// only sees declarations, which builds faster. Asio's and Beast's own separate compilation
// (BOOST_ASIO_SEPARATE_COMPILATION, BOOST_BEAST_SEPARATE_COMPILATION) is a choice of its own: each
// works with or without this one (src.hpp says how).

#if defined(AUTOINTERP_SEPARATE_COMPILATION)
#  define AUTOINTERP_DECL
#else
#  define AUTOINTERP_DECL inline
#endif

#define AUTOINTERP_VERSION_STRING "0.1.0"
