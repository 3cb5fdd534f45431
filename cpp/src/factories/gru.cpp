#include "neuralfx/layers/gru.hpp"

#include "../registry.hpp"
#include "recurrent.hpp"

namespace neuralfx {

// Weight names are those of neuralfx.models.gru.GRU's state_dict.
std::unique_ptr<Block> make_gru(const BlockReader& r) { return make_recurrent<GRU>(r, "gru", 3); }

}  // namespace neuralfx
