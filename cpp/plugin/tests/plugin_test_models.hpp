#pragma once
// Model files for the plugin's C++ tests, built as text like cpp/tests/test_support.hpp does.

#include <sstream>
#include <string>

#include "../../tests/test_support.hpp"

namespace nfx_test {

// An LSTM whose head is all zeros: with the input skip, y = x exactly. Through the resampler
// it shows the conversion alone; at the model's rate it is a bit-exact pass-through.
inline std::string identity_model_json(int sample_rate, int hidden = 2) {
    auto zeros = [](int count) {
        std::ostringstream s;
        for (int i = 0; i < count; ++i) s << (i ? "," : "") << "0";
        return s.str();
    };
    std::ostringstream s;
    s << "{\"format\": \"neuralfx-model\", \"version\": 1, \"sample_rate\": " << sample_rate << ", \"knobs\": [],"
      << "\"blocks\": [{\"type\": \"LSTM\", \"config\": {\"hidden_size\": " << hidden
      << ", \"num_layers\": 1, \"skip\": true}, \"weights\": {"
      << "\"lstm.weight_ih_l0\": {\"shape\": [" << 4 * hidden << ", 1], \"data\": [" << zeros(4 * hidden) << "]},"
      << "\"lstm.weight_hh_l0\": {\"shape\": [" << 4 * hidden << ", " << hidden << "], \"data\": ["
      << zeros(4 * hidden * hidden) << "]},"
      << "\"lstm.bias_ih_l0\": {\"shape\": [" << 4 * hidden << "], \"data\": [" << zeros(4 * hidden) << "]},"
      << "\"lstm.bias_hh_l0\": {\"shape\": [" << 4 * hidden << "], \"data\": [" << zeros(4 * hidden) << "]},"
      << "\"head.weight\": {\"shape\": [1, " << hidden << "], \"data\": [" << zeros(hidden) << "]},"
      << "\"head.bias\": {\"shape\": [1], \"data\": [0]}}}], \"metadata\": {\"source\": \"identity\"}}";
    return s.str();
}

// random_lstm_model_json at another sample rate.
inline std::string lstm_model_json_at(int sample_rate, int hidden, bool with_knob, unsigned seed) {
    std::string text = random_lstm_model_json(hidden, 1, with_knob, seed);
    const std::string from = "\"sample_rate\": 48000";
    text.replace(text.find(from), from.size(), "\"sample_rate\": " + std::to_string(sample_rate));
    return text;
}

}  // namespace nfx_test
