# Settings for our own tests, examples, benchmarks and fuzzers (never for consumers).
find_program(AUTOINTERP_CCACHE ccache)
if(AUTOINTERP_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${AUTOINTERP_CCACHE})
endif()

# Warnings as errors and optional sanitizers, linked into every target of ours.
add_library(autointerp_dev_flags INTERFACE)
target_compile_options(autointerp_dev_flags INTERFACE -Wall -Wextra -Werror)
# GCC 12 at -O2/-O3 reports impossible sizes and overlaps inside std::string's inlined memcpy for
# ordinary `"text" + str`, appends and inserts (GCC bugs 105329, 105545, 105651): false positives
# seen in our Release builds, so these three checks are left out for GCC 12 only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(autointerp_dev_flags INTERFACE -Wno-stringop-overflow -Wno-array-bounds -Wno-restrict)
endif()
if(AUTOINTERP_SANITIZE)
  target_compile_options(autointerp_dev_flags INTERFACE -fsanitize=${AUTOINTERP_SANITIZE} -fno-omit-frame-pointer
                                                        -fno-sanitize-recover=all)
  target_link_options(autointerp_dev_flags INTERFACE -fsanitize=${AUTOINTERP_SANITIZE})
endif()

# Separate compilation for our own targets: Asio (with SSL), Beast and autointerp's out-of-line
# parts compiled once, in compiled/src.cpp, with compiled/pch.hpp precompiled.
add_library(autointerp_compiled STATIC ${PROJECT_SOURCE_DIR}/compiled/src.cpp)
target_link_libraries(autointerp_compiled PUBLIC autointerp::autointerp autointerp_dev_flags)
target_compile_definitions(autointerp_compiled PUBLIC AUTOINTERP_SEPARATE_COMPILATION
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION)
target_precompile_headers(autointerp_compiled PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/compiled/pch.hpp>)
