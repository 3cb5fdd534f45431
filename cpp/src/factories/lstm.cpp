#include "neuralfx/layers/lstm.hpp"

#include "../registry.hpp"
#include "recurrent.hpp"

namespace neuralfx {

// Weight names are those of neuralfx.models.lstm.LSTM's state_dict.
std::unique_ptr<Block> make_lstm(const BlockReader& r) {
    RecurrentSpec s = read_recurrent(r, "lstm", 4);
    return std::make_unique<LSTM>(s.hidden_size, std::move(s.layers), std::move(s.head_weight), s.head_bias,
                                  std::move(s.conditioning), s.skip);
}

}  // namespace neuralfx
