# What autointerp needs, shared by our own build and by find_package(autointerp).
# Debian 12: cmake/setup.sh installs all of it.
include(CMakeFindDependencyMacro)
find_dependency(Boost 1.81 CONFIG COMPONENTS json)
find_dependency(OpenSSL)
find_dependency(zstd CONFIG)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)
