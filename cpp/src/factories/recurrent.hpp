#pragma once
// Reading the weights shared by every recurrent amp block (LSTM, GRU): the stacked layers in
// PyTorch's naming ("<prefix>.weight_ih_l0", ...) and the linear head.

#include <string>
#include <vector>

#include "../block_reader.hpp"
#include "neuralfx/layers/recurrent_weights.hpp"

namespace neuralfx {

struct RecurrentSpec {
    int hidden_size = 0;
    std::vector<int> conditioning;
    bool skip = true;
    std::vector<RecurrentLayerWeights> layers;
    std::vector<float> head_weight;
    float head_bias = 0.0f;
};

// gates: 4 for LSTM, 3 for GRU.
RecurrentSpec read_recurrent(const BlockReader& r, const std::string& prefix, int gates);

}  // namespace neuralfx
