#pragma once
// One layer of a PyTorch RNN (LSTM, GRU) as stored in a model file, in PyTorch's layout.

#include <vector>

namespace neuralfx {

struct RecurrentLayerWeights {
    int input_size = 0;
    std::vector<float> weight_ih;  // (gates * H, input_size) row-major
    std::vector<float> weight_hh;  // (gates * H, H)
    std::vector<float> bias_ih;    // (gates * H)
    std::vector<float> bias_hh;    // (gates * H)
};

}  // namespace neuralfx
