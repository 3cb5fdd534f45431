// Factories of the convolutional amp blocks (WaveNet, TCN). Weight names are those of the torch
// modules' state_dicts (neuralfx/models/wavenet.py, tcn.py).

#include <string>
#include <vector>

#include "neuralfx/layers/tcn.hpp"
#include "neuralfx/layers/wavenet.hpp"
#include "neuralfx/model_io.hpp"

#include "../registry.hpp"

namespace neuralfx {

namespace {

// FiLM's linear layer for `rows` = 2 * (sum of layer channels) outputs; empty without knobs.
void read_film(const BlockReader& r, int num_knobs, int rows, std::vector<float>& weight, std::vector<float>& bias) {
    if (num_knobs == 0) return;
    weight = r.weight("film.linear.weight", {rows, num_knobs});
    bias = r.weight("film.linear.bias", {rows});
}

// kMaxConvLayers and kMaxConvHistory (model_io.hpp); twin of config_checks.check_conv_extent.
void check_conv_extent(const BlockReader& r, const std::vector<int>& kernel_sizes,
                       const std::vector<std::vector<int>>& dilations) {
    long long layers = 0, history = 0;
    for (size_t a = 0; a < dilations.size(); ++a) {
        layers += static_cast<long long>(dilations[a].size());
        for (int d : dilations[a]) history += static_cast<long long>(kernel_sizes[a] - 1) * d;
    }
    if (layers > kMaxConvLayers)
        r.fail(".config.dilations", std::to_string(layers) + " layers, above the limit of " + std::to_string(kMaxConvLayers));
    if (history > kMaxConvHistory)
        r.fail(".config.dilations", "the layers keep " + std::to_string(history) +
                                        " samples of history (the sum of (kernel - 1) x dilation), above the limit of " +
                                        std::to_string(kMaxConvHistory) + ": use fewer or smaller dilations");
}

}  // namespace

std::unique_ptr<Block> make_wavenet(const BlockReader& r) {
    const std::vector<int> channels = r.get_int_list("channels", 1, 256);
    const std::vector<int> kernel_sizes = r.get_int_list("kernel_sizes", 1, 64);
    if (channels.empty()) r.fail(".config.channels", "needs at least one layer array");
    if (kernel_sizes.size() != channels.size())
        r.fail(".config.kernel_sizes", "needs one entry per layer array (" + std::to_string(channels.size()) + ")");
    const auto dilations_json = r.config().find("dilations");
    if (dilations_json == r.config().end() || !dilations_json->is_array() || dilations_json->size() != channels.size())
        r.fail(".config.dilations", "expected one list of dilations per layer array (" + std::to_string(channels.size()) + ")");
    const float head_scale = r.get_float("head_scale", -1e6f, 1e6f, 0.02f);
    std::vector<int> conditioning = r.knob_indices("conditioning");
    std::vector<std::vector<int>> dilations(channels.size());
    for (size_t a = 0; a < channels.size(); ++a) {
        const std::string field = ".config.dilations[" + std::to_string(a) + "]";
        const auto& list = (*dilations_json)[a];
        if (!list.is_array() || list.empty()) r.fail(field, "expected a non-empty list of integers");
        for (size_t i = 0; i < list.size(); ++i) {
            if (!integer_within(list[i], 1, 8192))
                r.fail(field + "[" + std::to_string(i) + "]", "expected an integer in [1, 8192]");
            dilations[a].push_back(list[i].get<int>());
        }
    }
    check_conv_extent(r, kernel_sizes, dilations);
    std::vector<WaveNet::ArrayWeights> arrays;
    int film_rows = 0;
    for (size_t a = 0; a < channels.size(); ++a) {
        WaveNet::ArrayWeights w;
        w.channels = channels[a];
        w.input_size = a == 0 ? 1 : channels[a - 1];
        w.kernel_size = kernel_sizes[a];
        w.head_size = a + 1 < channels.size() ? channels[a + 1] : 1;
        w.dilations = dilations[a];
        const std::string p = "arrays." + std::to_string(a) + ".";
        const int C = w.channels;
        w.rechannel = r.weight(p + "rechannel.weight", {C, w.input_size, 1});
        for (size_t l = 0; l < w.dilations.size(); ++l) {
            const std::string q = p + "layers." + std::to_string(l) + ".";
            WaveNet::ArrayWeights::Layer layer;
            layer.conv_weight = r.weight(q + "conv.weight", {C, C, w.kernel_size});
            layer.conv_bias = r.weight(q + "conv.bias", {C});
            layer.mixin = r.weight(q + "mixin.weight", {C, 1, 1});
            layer.out_weight = r.weight(q + "out.weight", {C, C, 1});
            layer.out_bias = r.weight(q + "out.bias", {C});
            w.layers.push_back(std::move(layer));
            film_rows += 2 * C;
        }
        w.head_weight = r.weight(p + "head.weight", {w.head_size, C, 1});
        if (a + 1 == channels.size()) w.head_bias = r.weight(p + "head.bias", {1});
        arrays.push_back(std::move(w));
    }
    std::vector<float> film_w, film_b;
    read_film(r, static_cast<int>(conditioning.size()), film_rows, film_w, film_b);
    return std::make_unique<WaveNet>(std::move(arrays), head_scale, std::move(conditioning), film_w, film_b);
}

std::unique_ptr<Block> make_tcn(const BlockReader& r) {
    const int channels = r.get_int("channels", 1, 256);
    const int kernel_size = r.get_int("kernel_size", 1, 64);
    const std::vector<int> dilations = r.get_int_list("dilations", 1, 8192);
    if (dilations.empty()) r.fail(".config.dilations", "needs at least one layer");
    check_conv_extent(r, {kernel_size}, {dilations});
    std::vector<int> conditioning = r.knob_indices("conditioning");
    std::vector<TCN::Layer> layers;
    for (size_t l = 0; l < dilations.size(); ++l) {
        const std::string q = "layers." + std::to_string(l) + ".";
        const int cin = l == 0 ? 1 : channels;
        TCN::Layer layer;
        layer.dilation = dilations[l];
        layer.conv_weight = r.weight(q + "conv.weight", {channels, cin, kernel_size});
        layer.conv_bias = r.weight(q + "conv.bias", {channels});
        layer.prelu = r.weight(q + "act.weight", {channels});
        if (cin != channels) layer.res = r.weight(q + "res.weight", {channels, cin, 1});
        layers.push_back(std::move(layer));
    }
    const std::vector<float> out_w = r.weight("output.weight", {1, channels, 1});
    const float out_b = r.weight("output.bias", {1})[0];
    std::vector<float> film_w, film_b;
    read_film(r, static_cast<int>(conditioning.size()), 2 * channels * static_cast<int>(dilations.size()), film_w, film_b);
    return std::make_unique<TCN>(channels, kernel_size, std::move(layers), out_w, out_b, std::move(conditioning), film_w,
                                 film_b);
}

}  // namespace neuralfx
