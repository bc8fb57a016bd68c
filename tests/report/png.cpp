#include "tests/report/png.hpp"

#ifdef HYPDIFF_HAVE_ZLIB
#include <zlib.h>
#endif

#include <cstdlib>
#include <cstring>

namespace hypdiff::report::testing {

namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::uint32_t be32(const std::string& b, std::size_t at) {
  const auto u = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i]));
  };
  return u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

}  // namespace

std::optional<std::pair<std::uint32_t, std::uint32_t>> png_size(const std::string& bytes) {
  if (bytes.size() < 33 || std::memcmp(bytes.data(), kSignature, 8) != 0 ||
      bytes.compare(12, 4, "IHDR") != 0)
    return std::nullopt;
  return std::pair{be32(bytes, 16), be32(bytes, 20)};
}

std::optional<Image> decode_png(const std::string& bytes, std::string* why) {
#ifndef HYPDIFF_HAVE_ZLIB
  (void)bytes;
  return *why = "built without zlib", std::nullopt;
#else
  const auto size = png_size(bytes);
  if (!size) return *why = "not a PNG", std::nullopt;
  const auto depth = static_cast<unsigned char>(bytes[24]);
  const auto color = static_cast<unsigned char>(bytes[25]);
  const auto interlace = static_cast<unsigned char>(bytes[28]);
  if (depth != 8 || (color != 2 && color != 6) || interlace != 0)
    return *why = "not an 8-bit RGB(A) progressive PNG", std::nullopt;
  const std::size_t channels = color == 6 ? 4 : 3;
  std::string idat;
  for (std::size_t at = 8; at + 12 <= bytes.size();) {
    const std::uint32_t len = be32(bytes, at);
    if (at + 12 + len > bytes.size()) return *why = "truncated chunk", std::nullopt;
    if (bytes.compare(at + 4, 4, "IDAT") == 0) idat.append(bytes, at + 8, len);
    at += 12 + len;
  }
  const std::size_t stride = size->first * channels;
  uLongf raw_len = static_cast<uLongf>((stride + 1) * size->second);
  std::vector<std::uint8_t> raw(raw_len);
  if (uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()),
                 static_cast<uLong>(idat.size())) != Z_OK ||
      raw_len != raw.size())
    return *why = "bad image data", std::nullopt;
  Image img{size->first, size->second, {}};
  img.rgb.reserve(std::size_t{img.width} * img.height * 3);
  std::vector<std::uint8_t> prev(stride, 0), cur(stride);
  for (std::uint32_t y = 0; y < img.height; ++y) {
    const std::uint8_t* line = raw.data() + y * (stride + 1);
    const int filter = line[0];
    for (std::size_t x = 0; x < stride; ++x) {
      const int a = x >= channels ? cur[x - channels] : 0, b = prev[x],
                c = x >= channels ? prev[x - channels] : 0;
      int pred = 0;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) / 2;
          break;
        case 4:
          pred = paeth(a, b, c);
          break;
        default:
          return *why = "bad filter type", std::nullopt;
      }
      cur[x] = static_cast<std::uint8_t>(line[1 + x] + pred);
    }
    for (std::size_t x = 0; x < img.width; ++x)
      for (std::size_t k = 0; k < 3; ++k) img.rgb.push_back(cur[x * channels + k]);
    std::swap(prev, cur);
  }
  return img;
#endif
}

}  // namespace hypdiff::report::testing
