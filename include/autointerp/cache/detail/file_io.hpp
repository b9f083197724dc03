#pragma once
// Small POSIX file helpers for the cache readers: read-only memory maps, positioned reads, and
// files written atomically (temporary name, fsync, rename).

#include <autointerp/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace autointerp::cache::detail {

/// "path: what went wrong" for an errno value, with the errc that fits it.
inline error file_error(std::filesystem::path const& path, std::string_view doing, int err) {
  auto code = err == ENOENT || err == ENOTDIR ? errc::file_not_found : errc::unreadable_file;
  return make_error(code, path.string() + ": cannot " + std::string(doing) + ": " + std::strerror(err));
}

/// An open file descriptor, closed on destruction.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// Opens `path` read-only and returns the descriptor and the file size.
inline result<std::pair<unique_fd, std::uint64_t>> open_read(std::filesystem::path const& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file_error(path, "open it", errno);
  unique_fd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return file_error(path, "stat it", errno);
  if (!S_ISREG(st.st_mode))
    return make_error(errc::unreadable_file, path.string() + ": not a regular file");
  return std::pair<unique_fd, std::uint64_t>(std::move(owned), static_cast<std::uint64_t>(st.st_size));
}

/// Reads exactly `out.size()` bytes at `offset`; a short read is reported as a truncated file.
inline result<void> read_exact_at(int fd, std::uint64_t offset, std::span<std::byte> out,
                                  std::filesystem::path const& path) {
  std::size_t done = 0;
  while (done < out.size()) {
    auto n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return file_error(path, "read it", errno);
    }
    if (n == 0)
      return make_error(errc::bad_offsets, path.string() + ": file ends at byte " + std::to_string(offset + done) +
                                               ", expected " + std::to_string(offset + out.size()) +
                                               " (truncated file?)");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

/// A whole file mapped read-only. Pages are read on first touch, so a reader that looks at a few
/// tensors of a large file reads only those.
class mapped_file {
 public:
  static result<mapped_file> open(std::filesystem::path const& path) {
    auto f = open_read(path);
    if (!f) return f.error();
    mapped_file m;
    m.size_ = f->second;
    if (m.size_ == 0) return m;
    void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, f->first.get(), 0);
    if (p == MAP_FAILED) return file_error(path, "map it into memory", errno);
    m.data_ = static_cast<std::byte const*>(p);
    return m;
  }
  mapped_file() = default;
  mapped_file(mapped_file&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~mapped_file() { unmap(); }
  std::span<std::byte const> bytes() const noexcept { return {data_, static_cast<std::size_t>(size_)}; }

 private:
  void unmap() noexcept {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
  }
  std::byte const* data_ = nullptr;
  std::uint64_t size_ = 0;
};

/// Writes a file under a temporary name beside `target` and renames it into place on `commit()`,
/// so a killed writer never leaves a half-written `target`. Destroying without commit removes the
/// temporary file.
class atomic_file {
 public:
  static result<atomic_file> create(std::filesystem::path target) {
    atomic_file f;
    f.target_ = std::move(target);
    f.temp_ = f.target_;
    f.temp_ += ".tmp-" + std::to_string(::getpid());
    int fd = ::open(f.temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return write_error(f.temp_, "create it", errno);
    f.fd_ = unique_fd(fd);
    return f;
  }
  atomic_file() = default;
  atomic_file(atomic_file&&) noexcept = default;
  atomic_file& operator=(atomic_file&&) noexcept = default;
  ~atomic_file() {
    if (fd_.get() >= 0) {
      fd_.reset();
      std::error_code ec;
      std::filesystem::remove(temp_, ec);
    }
  }

  result<void> write_at(std::uint64_t offset, void const* data, std::size_t size) {
    auto const* p = static_cast<char const*>(data);
    while (size > 0) {
      auto n = ::pwrite(fd_.get(), p, size, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return write_error(temp_, "write it", errno);
      }
      p += n;
      offset += static_cast<std::uint64_t>(n);
      size -= static_cast<std::size_t>(n);
    }
    return {};
  }
  result<void> append(void const* data, std::size_t size) {
    auto r = write_at(end_, data, size);
    if (r) end_ += size;
    return r;
  }
  std::uint64_t end() const noexcept { return end_; }
  void seek_end(std::uint64_t end) noexcept { end_ = end; }

  /// Flushes to disk and renames over the target.
  result<void> commit() {
    if (::fsync(fd_.get()) != 0) return write_error(temp_, "flush it", errno);
    fd_.reset();
    std::error_code ec;
    std::filesystem::rename(temp_, target_, ec);
    if (ec) {
      std::filesystem::remove(temp_, ec);
      return make_error(errc::write_failed, target_.string() + ": cannot rename the finished file into place: " +
                                                ec.message());
    }
    return {};
  }

 private:
  static error write_error(std::filesystem::path const& p, std::string_view doing, int err) {
    return make_error(errc::write_failed, p.string() + ": cannot " + std::string(doing) + ": " + std::strerror(err));
  }
  std::filesystem::path target_, temp_;
  unique_fd fd_;
  std::uint64_t end_ = 0;
};

/// Writes `text` to `target` atomically.
inline result<void> write_file_atomically(std::filesystem::path const& target, std::string_view text) {
  auto f = atomic_file::create(target);
  if (!f) return f.error();
  if (auto r = f->append(text.data(), text.size()); !r) return r.error();
  return f->commit();
}

/// Reads a whole small file (config.json, markers) into a string, refusing files over `limit` bytes.
inline result<std::string> read_small_file(std::filesystem::path const& path, std::uint64_t limit = 16u << 20) {
  auto f = open_read(path);
  if (!f) return f.error();
  if (f->second > limit)
    return make_error(errc::bad_config, path.string() + ": " + std::to_string(f->second) +
                                            " bytes is too large for this file (limit " + std::to_string(limit) + ")");
  std::string s(static_cast<std::size_t>(f->second), '\0');
  if (auto r = read_exact_at(f->first.get(), 0, std::as_writable_bytes(std::span(s)), path); !r) return r.error();
  return s;
}

}  // namespace autointerp::cache::detail
