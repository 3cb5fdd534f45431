#pragma once
// Maps a block "type" in a model file to the function that builds its C++ twin. One line per
// block type in registry.cpp; each factory lives beside its block's reader code.

#include <memory>
#include <string>
#include <vector>

#include "block_reader.hpp"
#include "neuralfx/block.hpp"

namespace neuralfx {

using BlockFactory = std::unique_ptr<Block> (*)(const BlockReader&);

// The block a reader describes (a model's block or one inside a DryWet); an unknown type fails
// naming the known ones.
std::unique_ptr<Block> build_block(const BlockReader& reader);

// Factories, one per block type (src/factories/*.cpp).
std::unique_ptr<Block> make_gru(const BlockReader&);
std::unique_ptr<Block> make_lstm(const BlockReader&);
std::unique_ptr<Block> make_wavenet(const BlockReader&);
std::unique_ptr<Block> make_tcn(const BlockReader&);
std::unique_ptr<Block> make_gain(const BlockReader&);
std::unique_ptr<Block> make_biquad(const BlockReader&);
std::unique_ptr<Block> make_parametric_eq(const BlockReader&);
std::unique_ptr<Block> make_waveshaper(const BlockReader&);
std::unique_ptr<Block> make_delay(const BlockReader&);
std::unique_ptr<Block> make_drywet(const BlockReader&);
std::unique_ptr<Block> make_compressor(const BlockReader&);
std::unique_ptr<Block> make_noise_gate(const BlockReader&);

}  // namespace neuralfx
