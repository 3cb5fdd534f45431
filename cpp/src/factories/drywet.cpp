#include "neuralfx/dsp/drywet.hpp"

#include "../registry.hpp"
#include "dsp_params.hpp"

namespace neuralfx {

// Config and weight names are those of neuralfx.dsp.drywet.DryWet: inner blocks in
// config "blocks" as {"type", "config"}, their weights under "blocks.<i>.".
std::unique_ptr<Block> make_drywet(const BlockReader& r) {
    constexpr size_t kMaxInnerBlocks = 64;
    const auto p = dsp::read_params(r, r.config(), ".config", "", {{"mix", 0.0, 1.0, ""}});
    auto list = r.config().find("blocks");
    if (list == r.config().end() || !list->is_array() || list->empty() || list->size() > kMaxInnerBlocks)
        r.fail(".config.blocks", "expected a list of 1 to " + std::to_string(kMaxInnerBlocks) +
                                     " {\"type\", \"config\"} objects");
    std::vector<std::unique_ptr<Block>> inner;
    for (size_t j = 0; j < list->size(); ++j) {
        const std::string n = std::to_string(j);
        BlockReader reader(r, (*list)[j], ".config.blocks[" + n + "]", "blocks." + n + ".");
        inner.push_back(build_block(reader));
        // The dry path is not delayed: a block with latency would leave dry and wet misaligned.
        if (const int latency = inner.back()->latency_samples())
            reader.fail("", std::to_string(latency) + " samples of latency; DryWet does not delay the dry path to "
                            "match: place this block outside the DryWet");
    }
    return std::make_unique<dsp::DryWet>(p[0], std::move(inner));
}

}  // namespace neuralfx
