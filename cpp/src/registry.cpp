#include "registry.hpp"

#include <utility>

namespace neuralfx {

namespace {

struct BlockType {
    std::string name;
    BlockFactory factory;
    // The config entries the type takes, the same as each Python class's config_entries
    // (tests/test_modelfile.py compares the two); any other is refused (a misspelt "atack_ms" was
    // ignored by both readers).
    std::vector<std::string> entries;
};

const std::vector<BlockType>& table() {
    static const std::vector<BlockType> types = {
        {"GRU", &make_gru, {"hidden_size", "num_layers", "skip", "conditioning"}},
        {"LSTM", &make_lstm, {"hidden_size", "num_layers", "skip", "conditioning"}},
        {"WaveNet", &make_wavenet, {"channels", "kernel_sizes", "dilations", "head_scale", "conditioning"}},
        {"TCN", &make_tcn, {"channels", "kernel_size", "dilations", "conditioning"}},
        {"Gain", &make_gain, {"knobs"}},
        {"Biquad", &make_biquad, {"mode", "sample_rate", "knobs"}},
        {"ParametricEQ", &make_parametric_eq, {"bands", "sample_rate"}},
        {"Waveshaper", &make_waveshaper, {"curve", "sample_rate", "knobs", "pre", "post"}},
        {"Delay", &make_delay, {"max_delay_ms", "sample_rate", "knobs"}},
        {"DryWet", &make_drywet, {"blocks", "knobs"}},
        {"Compressor", &make_compressor, {"detector", "rms_ms", "rms_attack_ms", "smoothing", "sample_rate", "knobs"}},
        {"NoiseGate", &make_noise_gate, {"detector", "rms_ms", "rms_attack_ms", "smoothing", "sample_rate", "knobs"}},
    };
    return types;
}

}  // namespace

std::unique_ptr<Block> build_block(const BlockReader& reader) {
    for (const BlockType& type : table()) {
        if (type.name != reader.type()) continue;
        reader.check_entries(reader.config(), ".config", type.entries);
        return type.factory(reader);
    }
    std::string known;
    for (const BlockType& type : table()) known += (known.empty() ? "" : ", ") + type.name;
    reader.fail(".type", "unknown block type '" + reader.type() + "' (known: " + known + ")");
}

}  // namespace neuralfx
