#pragma once
// Build configuration shared by every header.
//
// Header-only by default. With AUTOINTERP_SEPARATE_COMPILATION (plus Asio's and Beast's own
// BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION, which the CMake option sets
// together) the out-of-line parts are compiled once, in the translation unit that includes
// <autointerp/src.hpp>; every other translation unit only sees declarations, which builds faster.

#if defined(AUTOINTERP_SEPARATE_COMPILATION)
#  if !defined(BOOST_ASIO_SEPARATE_COMPILATION) || !defined(BOOST_BEAST_SEPARATE_COMPILATION)
#    error "AUTOINTERP_SEPARATE_COMPILATION also needs BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION"
#  endif
#  define AUTOINTERP_DECL
#else
#  define AUTOINTERP_DECL inline
#endif

#define AUTOINTERP_VERSION_STRING "0.1.0"
