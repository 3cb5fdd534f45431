#include "neuralfx/layers/lstm.hpp"

#include "../registry.hpp"

namespace neuralfx {

// Weight names are those of neuralfx.models.lstm.LSTM's state_dict.
std::unique_ptr<Block> make_lstm(const BlockReader& r) {
    const int hidden = r.get_int("hidden_size", 1, 1024);
    const int num_layers = r.get_int("num_layers", 1, 8, 1);
    const std::vector<int> conditioning = r.knob_indices("conditioning");
    const bool skip = r.get_bool("skip", true);
    std::vector<LSTM::Layer> layers;
    for (int l = 0; l < num_layers; ++l) {
        const std::string suffix = "_l" + std::to_string(l);
        LSTM::Layer layer;
        layer.input_size = l == 0 ? 1 + static_cast<int>(conditioning.size()) : hidden;
        layer.weight_ih = r.weight("lstm.weight_ih" + suffix, {4 * hidden, layer.input_size});
        layer.weight_hh = r.weight("lstm.weight_hh" + suffix, {4 * hidden, hidden});
        layer.bias_ih = r.weight("lstm.bias_ih" + suffix, {4 * hidden});
        layer.bias_hh = r.weight("lstm.bias_hh" + suffix, {4 * hidden});
        layers.push_back(std::move(layer));
    }
    std::vector<float> head_weight = r.weight("head.weight", {1, hidden});
    const float head_bias = r.weight("head.bias", {1})[0];
    return std::make_unique<LSTM>(hidden, std::move(layers), std::move(head_weight), head_bias, conditioning, skip);
}

}  // namespace neuralfx
