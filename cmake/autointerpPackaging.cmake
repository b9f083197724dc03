# `cpack -G DEB` in the build folder: one Debian package with the autointerp tool (when the examples
# are built), the SDK headers and the CMake package config, installed under /usr.
set(AUTOINTERP_PACKAGE_CONTACT
    "autointerp maintainers <maintainers@users.noreply.r-seed-c2be3553.example>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME autointerp)
set(CPACK_PACKAGE_VENDOR autointerp)
set(CPACK_PACKAGE_CONTACT ${AUTOINTERP_PACKAGE_CONTACT})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY ${PROJECT_DESCRIPTION})
set(CPACK_PACKAGE_DESCRIPTION [=[
The autointerp tool (/usr/bin/autointerp) reads delphi's latent caches, builds each latent's record
and explains it with an LLM (OpenRouter, OpenAI or any OpenAI-compatible server) or a statistical
baseline, with retries, rate budgets, sharding across machines and resume.

The package also holds the header-only C++20 SDK (/usr/include/autointerp) and its CMake package
config, for find_package(autointerp). The tool needs only the runtime libraries in Depends; building
against the SDK also needs the development packages libboost1.81-dev, libboost-json1.81-dev,
libssl-dev and libzstd-dev (in Suggests), and a C++20 compiler.]=])
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # autointerp_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Depends comes from dpkg-shlibdeps (dpkg-dev) on the tool: libc6, libstdc++6, libgcc-s1, libssl3,
# libzstd1 and libboost-json1.81.0 on Debian 12, each with the minimum version it was built against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The LLM client verifies servers against the system's CA certificates.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS ca-certificates)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "libboost1.81-dev, libboost-json1.81-dev, libssl-dev, libzstd-dev")

include(CPack)
