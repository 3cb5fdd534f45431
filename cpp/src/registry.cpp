#include "registry.hpp"

#include <utility>

namespace neuralfx {

namespace {

const std::vector<std::pair<std::string, BlockFactory>>& table() {
    static const std::vector<std::pair<std::string, BlockFactory>> entries = {
        {"GRU", &make_gru},
        {"LSTM", &make_lstm},
        {"WaveNet", &make_wavenet},
        {"TCN", &make_tcn},
        {"Gain", &make_gain},
        {"Biquad", &make_biquad},
        {"ParametricEQ", &make_parametric_eq},
        {"Waveshaper", &make_waveshaper},
        {"Delay", &make_delay},
        {"DryWet", &make_drywet},
        {"Compressor", &make_compressor},
        {"NoiseGate", &make_noise_gate},
    };
    return entries;
}

}  // namespace

std::unique_ptr<Block> build_block(const BlockReader& reader) {
    for (const auto& [name, factory] : table())
        if (name == reader.type()) return factory(reader);
    std::string known;
    for (const auto& entry : table()) known += (known.empty() ? "" : ", ") + entry.first;
    reader.fail(".type", "unknown block type '" + reader.type() + "' (known: " + known + ")");
}

}  // namespace neuralfx
