#include "recurrent.hpp"

namespace neuralfx {

RecurrentSpec read_recurrent(const BlockReader& r, const std::string& prefix, int gates) {
    RecurrentSpec spec;
    spec.hidden_size = r.get_int("hidden_size", 1, kMaxHiddenSize);
    const int hidden = spec.hidden_size;
    const int num_layers = r.get_int("num_layers", 1, kMaxRecurrentLayers, 1);
    spec.conditioning = r.knob_indices("conditioning");
    spec.skip = r.get_bool("skip", true);
    for (int l = 0; l < num_layers; ++l) {
        const std::string suffix = "_l" + std::to_string(l);
        RecurrentLayerWeights layer;
        layer.input_size = l == 0 ? 1 + static_cast<int>(spec.conditioning.size()) : hidden;
        layer.weight_ih = r.weight(prefix + ".weight_ih" + suffix, {gates * hidden, layer.input_size});
        layer.weight_hh = r.weight(prefix + ".weight_hh" + suffix, {gates * hidden, hidden});
        layer.bias_ih = r.weight(prefix + ".bias_ih" + suffix, {gates * hidden});
        layer.bias_hh = r.weight(prefix + ".bias_hh" + suffix, {gates * hidden});
        spec.layers.push_back(std::move(layer));
    }
    spec.head_weight = r.weight("head.weight", {1, hidden});
    spec.head_bias = r.weight("head.bias", {1})[0];
    return spec;
}

}  // namespace neuralfx
