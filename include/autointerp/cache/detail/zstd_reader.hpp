#pragma once
// Streaming zstd decompression of a file: the caller pulls exactly as many decompressed bytes as
// it needs, so a corrupt or oversized frame is caught before it fills memory.

#include <autointerp/cache/detail/file_io.hpp>
#include <autointerp/error.hpp>

#include <zstd.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace autointerp::cache::detail {

/// Decompresses a `.zst` file (one or more frames) on demand. Not thread-safe; one per reader.
class zstd_reader {
 public:
  static result<zstd_reader> open(std::filesystem::path path) {
    auto f = open_read(path);
    if (!f) return f.error();
    zstd_reader r;
    r.path_ = std::move(path);
    r.fd_ = std::move(f->first);
    r.file_size_ = f->second;
    r.stream_.reset(ZSTD_createDStream());
    if (!r.stream_) return make_error(errc::memory_budget, r.path_.string() + ": cannot allocate a zstd stream");
    ZSTD_initDStream(r.stream_.get());
    r.in_buf_.resize(ZSTD_DStreamInSize());
    return r;
  }

  /// Fills `out` completely; fewer bytes (the returned count) only at the end of the data.
  /// Errors: `errc::corrupt_zstd` (bad or truncated frame), `errc::unreadable_file`.
  result<std::size_t> read(std::span<std::byte> out) {
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    while (ob.pos < ob.size) {
      if (in_.pos == in_.size && !input_done_) {
        auto want = std::min<std::uint64_t>(in_buf_.size(), file_size_ - file_pos_);
        if (want == 0) {
          input_done_ = true;
        } else {
          auto r = read_exact_at(fd_.get(), file_pos_, std::span(in_buf_.data(), static_cast<std::size_t>(want)), path_);
          if (!r) return r.error();
          file_pos_ += want;
          in_ = ZSTD_inBuffer{in_buf_.data(), static_cast<std::size_t>(want), 0};
        }
      }
      if (in_.pos == in_.size && input_done_) {
        if (!frame_done_)
          return make_error(errc::corrupt_zstd, path_.string() + ": the zstd data ends in the middle of a frame "
                                                                 "(truncated file?)");
        break;
      }
      std::size_t before = ob.pos;
      std::size_t ret = ZSTD_decompressStream(stream_.get(), &ob, &in_);
      if (ZSTD_isError(ret))
        return make_error(errc::corrupt_zstd, path_.string() + ": cannot decompress at compressed byte " +
                                                  std::to_string(file_pos_ - (in_.size - in_.pos)) + ": " +
                                                  ZSTD_getErrorName(ret));
      frame_done_ = ret == 0;
      if (ob.pos == before && in_.pos == in_.size && input_done_ && frame_done_) break;
    }
    produced_ += ob.pos;
    return ob.pos;
  }

  /// Reads exactly `out.size()` bytes; a short stream is reported with `what` in the message.
  result<void> read_exact(std::span<std::byte> out, std::string_view what) {
    auto n = read(out);
    if (!n) return n.error();
    if (*n != out.size())
      return make_error(errc::bad_offsets, path_.string() + ": decompressed data ends after " +
                                               std::to_string(produced_) + " bytes, inside the " + std::string(what));
    return {};
  }

  /// True when no decompressed byte is left (reads one byte ahead to know).
  result<bool> at_end() {
    std::byte b{};
    auto n = read(std::span(&b, 1));
    if (!n) return n.error();
    return *n == 0;
  }

  std::uint64_t compressed_size() const noexcept { return file_size_; }
  std::filesystem::path const& path() const noexcept { return path_; }

 private:
  struct stream_free {
    void operator()(ZSTD_DStream* s) const noexcept { ZSTD_freeDStream(s); }
  };
  std::filesystem::path path_;
  unique_fd fd_;
  std::uint64_t file_size_ = 0, file_pos_ = 0, produced_ = 0;
  std::unique_ptr<ZSTD_DStream, stream_free> stream_;
  std::vector<std::byte> in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool input_done_ = false;
  bool frame_done_ = false;  // an empty file is not a zstd stream
};

}  // namespace autointerp::cache::detail
