// A minimal PNG reader for the screenshot test: 8-bit RGB or RGBA, not interlaced (what
// Chromium writes). Needs zlib; returns nullopt with a reason for anything else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hypdiff::report::testing {

struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3
};

// Width and height from the IHDR chunk; nullopt when the file is not a PNG.
std::optional<std::pair<std::uint32_t, std::uint32_t>> png_size(const std::string& bytes);

std::optional<Image> decode_png(const std::string& bytes, std::string* why);

}  // namespace hypdiff::report::testing
