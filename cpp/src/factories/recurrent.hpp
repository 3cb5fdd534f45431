#pragma once
// Reading the weights shared by every recurrent amp block (LSTM, GRU): the stacked layers in
// PyTorch's naming ("<prefix>.weight_ih_l0", ...) and the linear head.

#include <memory>
#include <string>
#include <vector>

#include "../block_reader.hpp"
#include "neuralfx/layers/recurrent_weights.hpp"
#include "neuralfx/model_io.hpp"

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

// The block of a recurrent cell type, every cell sharing one constructor signature.
template <class Cell>
std::unique_ptr<Block> make_recurrent(const BlockReader& r, const std::string& prefix, int gates) {
    RecurrentSpec s = read_recurrent(r, prefix, gates);
    return std::make_unique<Cell>(s.hidden_size, std::move(s.layers), std::move(s.head_weight), s.head_bias,
                                  std::move(s.conditioning), s.skip);
}

}  // namespace neuralfx
