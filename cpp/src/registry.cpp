#include "registry.hpp"

#include <utility>

namespace neuralfx {

namespace {

struct BlockType {
    std::string name;
    BlockFactory factory;
    // The config entries the type reads, as neuralfx/blocks.py's classes write and read them; any
    // other is refused (a misspelt "atack_ms" was ignored by both readers). Every type also takes
    // "sample_rate" and "knobs", as the Python reader does.
    std::vector<std::string> entries;
};

const std::vector<BlockType>& table() {
    static const std::vector<std::string> dynamics = {"detector", "rms_ms", "rms_attack_ms", "smoothing"};
    static const std::vector<BlockType> types = {
        {"GRU", &make_gru, {"hidden_size", "num_layers", "skip", "conditioning"}},
        {"LSTM", &make_lstm, {"hidden_size", "num_layers", "skip", "conditioning"}},
        {"WaveNet", &make_wavenet, {"channels", "kernel_sizes", "dilations", "head_scale", "conditioning"}},
        {"TCN", &make_tcn, {"channels", "kernel_size", "dilations", "conditioning"}},
        {"Gain", &make_gain, {}},
        {"Biquad", &make_biquad, {"mode"}},
        {"ParametricEQ", &make_parametric_eq, {"bands"}},
        {"Waveshaper", &make_waveshaper, {"curve", "pre", "post"}},
        {"Delay", &make_delay, {"max_delay_ms"}},
        {"DryWet", &make_drywet, {"blocks"}},
        {"Compressor", &make_compressor, dynamics},
        {"NoiseGate", &make_noise_gate, dynamics},
    };
    return types;
}

}  // namespace

std::unique_ptr<Block> build_block(const BlockReader& reader) {
    for (const BlockType& type : table()) {
        if (type.name != reader.type()) continue;
        std::vector<std::string> entries = type.entries;
        entries.insert(entries.end(), {"sample_rate", "knobs"});
        reader.check_entries(reader.config(), ".config", entries);
        return type.factory(reader);
    }
    std::string known;
    for (const BlockType& type : table()) known += (known.empty() ? "" : ", ") + type.name;
    reader.fail(".type", "unknown block type '" + reader.type() + "' (known: " + known + ")");
}

}  // namespace neuralfx
