#include "neuralfx/layers/gru.hpp"

#include "../registry.hpp"
#include "recurrent.hpp"

namespace neuralfx {

// Weight names are those of neuralfx.models.gru.GRU's state_dict.
std::unique_ptr<Block> make_gru(const BlockReader& r) {
    RecurrentSpec s = read_recurrent(r, "gru", 3);
    return std::make_unique<GRU>(s.hidden_size, std::move(s.layers), std::move(s.head_weight), s.head_bias,
                                 std::move(s.conditioning), s.skip);
}

}  // namespace neuralfx
