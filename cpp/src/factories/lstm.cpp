#include "neuralfx/layers/lstm.hpp"

#include "../registry.hpp"
#include "recurrent.hpp"

namespace neuralfx {

// Weight names are those of neuralfx.models.lstm.LSTM's state_dict.
std::unique_ptr<Block> make_lstm(const BlockReader& r) { return make_recurrent<LSTM>(r, "lstm", 4); }

}  // namespace neuralfx
