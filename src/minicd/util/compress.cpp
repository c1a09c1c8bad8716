#include "minicd/util/compress.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace minicd::util {

namespace {

// zlib's windowBits: 15 for the 32 KiB window, +16 for a gzip header and trailer.
constexpr int k_gzip_window = 15 + 16;
constexpr std::size_t k_block = 64 * 1024;

// zlib counts in unsigned int; feed it at most this much at a time.
uInt clamp(std::size_t size) { return static_cast<uInt>(std::min<std::size_t>(size, UINT_MAX)); }

}  // namespace

std::string gzip(std::string_view bytes) {
    z_stream stream{};
    // Only a bad level or no memory make this fail; both are programming errors or a dying process.
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, k_gzip_window, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::bad_alloc();
    }
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, deflateEnd);
    std::string out;
    out.resize(deflateBound(&stream, static_cast<uLong>(bytes.size())));
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    std::size_t in_left = bytes.size();
    std::size_t produced = 0;
    int status = Z_OK;
    while (status != Z_STREAM_END) {
        if (produced == out.size()) out.resize(out.size() + k_block);
        stream.avail_in = clamp(in_left);
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        stream.avail_out = clamp(out.size() - produced);
        const uInt in_before = stream.avail_in;
        const uInt out_before = stream.avail_out;
        status = deflate(&stream, in_left == stream.avail_in ? Z_FINISH : Z_NO_FLUSH);
        in_left -= in_before - stream.avail_in;
        produced += out_before - stream.avail_out;
        if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) throw std::bad_alloc();
    }
    out.resize(produced);
    return out;
}

Result<std::string> gunzip(std::string_view compressed, std::size_t limit) {
    z_stream stream{};
    if (inflateInit2(&stream, k_gzip_window) != Z_OK) return fail(ErrorCode::internal, "cannot start zlib");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    std::size_t in_left = compressed.size();
    std::string out;
    std::size_t produced = 0;
    for (;;) {
        if (produced == out.size()) {
            if (out.size() >= limit) {
                return fail(ErrorCode::input, fmt::format("it expands to more than {} bytes", limit));
            }
            out.resize(std::min(limit, std::max(out.size() * 2, k_block)));
        }
        stream.avail_in = clamp(in_left);
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        stream.avail_out = clamp(out.size() - produced);
        const uInt in_before = stream.avail_in;
        const uInt out_before = stream.avail_out;
        const int status = inflate(&stream, Z_NO_FLUSH);
        in_left -= in_before - stream.avail_in;
        produced += out_before - stream.avail_out;
        if (status == Z_STREAM_END) break;
        if (status == Z_BUF_ERROR && in_left == 0 && stream.avail_out != 0) {
            return fail(ErrorCode::input, "the gzip stream is truncated");
        }
        if (status != Z_OK && status != Z_BUF_ERROR) {
            return fail(ErrorCode::input, fmt::format("the gzip stream is damaged ({})", stream.msg ? stream.msg : "zlib"));
        }
    }
    if (in_left != 0) return fail(ErrorCode::input, "bytes follow the end of the gzip stream");
    out.resize(produced);
    return out;
}

}  // namespace minicd::util
