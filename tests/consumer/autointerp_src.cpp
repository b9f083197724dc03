// The one source file that compiles autointerp's out-of-line parts (CONSUMER_SEPARATE=ON).
#include <autointerp/src.hpp>
