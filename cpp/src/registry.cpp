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

BlockFactory find_block_factory(const std::string& type) {
    for (const auto& [name, factory] : table())
        if (name == type) return factory;
    return nullptr;
}

std::vector<std::string> registered_block_types() {
    std::vector<std::string> names;
    for (const auto& entry : table()) names.push_back(entry.first);
    return names;
}

}  // namespace neuralfx
