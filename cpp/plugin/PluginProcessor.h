#pragma once
// The NeuralFX VST3 plugin: the neuralfx kernel (target neuralfx_kernel, the same code the
// pybind11 module runs) behind a JUCE AudioProcessor.
//
// Threads. The audio thread only ever touches the active Engine, reads parameters through
// atomics and swaps in a new Engine from an atomic pointer. Models are parsed and Engines built
// on the host's thread (prepareToPlay, setStateInformation) or on a small loader thread (a model
// chosen by automation while audio runs); engines the audio thread lets go of are deleted there
// too. See docs/PLUGIN.md.

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <juce_audio_processors/juce_audio_processors.h>

#include "engine.hpp"

namespace neuralfx {
namespace plugin {

constexpr int kNumKnobSlots = 8;
// A model swapped in while audio runs is crossfaded in over this long, so it never clicks.
constexpr double kSwapFadeSeconds = 0.02;
constexpr const char* kCustomChoiceName = "(custom)";
constexpr const char* kStateTag = "NeuralFX";
constexpr int kStateFormatVersion = 1;

class NeuralFXProcessor;

// Generic knob slot k: knob k of the current model, in the model's declared order. The host
// value is 0..1 across the model's [min, max]; the text shows the value in the model's units.
// The name stays "knobK" whatever the model: hosts (Pedalboard among them) key parameters by name.
class KnobSlotParameter final : public juce::AudioProcessorParameterWithID {
public:
    KnobSlotParameter(NeuralFXProcessor& owner, int slot, float default_value);
    float getValue() const override { return value_.load(std::memory_order_relaxed); }
    // NaN is ignored: jlimit passes it through.
    void setValue(float v) override {
        if (!std::isnan(v)) value_.store(juce::jlimit(0.0f, 1.0f, v), std::memory_order_relaxed);
    }
    float getDefaultValue() const override { return default_; }
    juce::String getText(float value, int maximum_length) const override;
    float getValueForText(const juce::String& text) const override;
    juce::String getLabel() const override { return {}; }

private:
    NeuralFXProcessor& owner_;
    int slot_;
    float default_;
    std::atomic<float> value_;
};

// Read-only "status": "ok ..." or "error: ..." as its text, so any host (and Pedalboard's
// plugin.status) can read why the plugin passes audio through unchanged.
class StatusParameter final : public juce::AudioProcessorParameterWithID {
public:
    explicit StatusParameter(NeuralFXProcessor& owner);
    float getValue() const override { return 0.0f; }
    void setValue(float) override {}
    float getDefaultValue() const override { return 0.0f; }
    juce::String getText(float, int maximum_length) const override;
    float getValueForText(const juce::String&) const override { return 0.0f; }
    bool isAutomatable() const override { return false; }
    bool isDiscrete() const override { return true; }
    int getNumSteps() const override { return 1; }

private:
    NeuralFXProcessor& owner_;
};

class NeuralFXProcessor final : public juce::AudioProcessor {
public:
    NeuralFXProcessor();
    ~NeuralFXProcessor() override;

    const juce::String getName() const override { return "NeuralFX"; }
    void prepareToPlay(double sample_rate, int max_block_size) override;
    // Marks the next prepareToPlay as a new signal (its engine is reset, if not rebuilt).
    void releaseResources() override { released_ = true; }
    void reset() override;
    // Also brings the reported latency up to date with the host's new sample rate: see the .cpp.
    bool isBusesLayoutSupported(const BusesLayout& layouts) const override;
    void processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) override;
    // Bypass keeps the latency: the engine keeps running and its mix glides to the delayed dry
    // signal, so toggling bypass neither clicks nor shifts the audio in time.
    void processBlockBypassed(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) override;
    using AudioProcessor::processBlock;
    using AudioProcessor::processBlockBypassed;

    // The selected model's (Model::tail_seconds: a Delay's echoes), so that a host does not stop
    // calling the plugin on silent input while they still sound. JUCE hands a VST3 host the tail
    // in samples as a 32-bit count (infinity as kInfiniteTail): longer tails are infinite there.
    double getTailLengthSeconds() const override {
        const double tail = model_tail_.load();
        const double rate = getSampleRate() > 0.0 ? getSampleRate() : static_cast<double>(neuralfx::kMaxSampleRate);
        return tail * rate < 2147483647.0 ? tail : std::numeric_limits<double>::infinity();
    }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    juce::AudioProcessorEditor* createEditor() override { return nullptr; }
    bool hasEditor() const override { return false; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram(int) override {}
    const juce::String getProgramName(int) override { return {}; }
    void changeProgramName(int, const juce::String&) override {}

    // State: UTF-8 XML (see docs/PLUGIN.md) carrying the parameters and, for a model that is
    // not a shipped preset, the model file itself. A bare model file (JSON) is accepted too.
    void getStateInformation(juce::MemoryBlock& dest) override;
    void setStateInformation(const void* data, int size) override;

    // Any thread but the audio thread.
    std::string status() const;
    // The current model's knob for a slot; false when the model has fewer knobs.
    bool slot_knob(int slot, KnobSpec& spec) const;
    // Engines built so far (tests use it to see that a reload happened off the audio thread).
    int engines_built() const { return engines_built_.load(); }
    // Engines the audio thread has switched to while running (each one crossfaded in).
    int engines_swapped_in() const { return engines_swapped_in_.load(); }

    int num_presets() const;
    int custom_choice_index() const { return num_presets(); }

private:
    class Loader;
    friend class Loader;

    struct Selection {
        std::unique_ptr<Model> model;
        std::string status;
    };

    Controls read_controls() const;
    void process(juce::AudioBuffer<float>& buffer, bool bypassed);
    void push_knobs(Engine& engine) const;
    float slot_value(const Model& model, int k) const;  // knob k's value set by its slot parameter
    // Off the audio thread, build_mutex_ held: parses the chosen model, updates the status and
    // knob specs, and (once prepared) returns a ready Engine.
    std::unique_ptr<Engine> build_for_choice(int choice);
    // Off the audio thread: makes `choice` the running model while audio may be running.
    // kFollowParameter: whatever the model parameter says, if that is not what runs already.
    static constexpr int kFollowParameter = -2;
    void select(int choice);
    void hand_over(std::unique_ptr<Engine> engine);
    bool retire(Engine* engine);  // lock-free; false when every slot is full
    void collect_garbage();
    void update_latency_for_host_rate(double host_rate);
    void set_info(const std::string& status, int choice, const std::vector<KnobSpec>& knobs);
    void forget_custom_knobs();
    void set_parameter_from_state(juce::AudioProcessorParameter& p, float value);
    bool apply_state_xml(const juce::XmlElement& xml, std::string& error);
    // Each slot the knobs name to its knob's declared default (host notified). For a model
    // delivered by state only: a host's model choice cannot move other parameters in a way the
    // host sees (JUCE drops the notification while the host sets a parameter, so Pedalboard read
    // the old positions while the plugin ran the new ones).
    void put_slots_at_defaults(const std::vector<KnobSpec>& knobs);
    // The knobs a model file declares; none when it does not load (its build reports why).
    static std::vector<KnobSpec> declared_knobs(const std::string& model_json);

    // Parameters (owned by AudioProcessor).
    juce::AudioParameterChoice* model_param_ = nullptr;
    juce::AudioParameterFloat* input_gain_param_ = nullptr;
    juce::AudioParameterFloat* output_gain_param_ = nullptr;
    juce::AudioParameterFloat* mix_param_ = nullptr;
    std::array<KnobSlotParameter*, kNumKnobSlots> slot_params_{};

    // Message-side state, under build_mutex_.
    std::mutex build_mutex_;
    std::string custom_json_;
    std::string custom_error_;
    // A state this build could not apply (a newer format, a damaged file), returned unchanged by
    // getStateInformation while "(custom)" stays selected: saving the project again must not
    // replace it with an empty custom model.
    std::optional<std::string> rejected_state_;
    bool prepared_ = false;
    // Set by releaseResources: the next prepareToPlay starts a new signal. Host thread only,
    // under build_mutex_ in prepareToPlay.
    bool released_ = true;
    double rate_ = 48000.0;
    int channels_ = 2;
    int block_ = 512;
    std::atomic<int> built_choice_{-1};
    // Rate and latency of the selected model (0 when none), so the latency at any host rate is
    // known before an Engine exists.
    std::atomic<double> model_rate_{0.0};
    std::atomic<int> model_latency_{0};
    std::atomic<double> model_tail_{0.0};  // seconds
    std::atomic<int> engines_built_{0};
    std::atomic<int> engines_swapped_in_{0};
    // Blocks the audio thread has run (wrapping): the loader thread looks more often while it moves.
    std::atomic<std::uint32_t> audio_blocks_{0};

    // Text the host reads (status, knob slots), under info_mutex_ (never held across host calls).
    mutable std::mutex info_mutex_;
    std::string status_;
    std::vector<KnobSpec> custom_knobs_;  // the custom model's, once built
    // Each shipped preset's knobs, read once at construction and never changed: a slot's units
    // follow the chosen preset at once, before the loader thread has built its engine.
    std::vector<std::vector<KnobSpec>> preset_knobs_;

    // Engine hand-over. active_/fading_ belong to the audio thread (and to prepareToPlay/reset,
    // which hosts never run concurrently with processBlock).
    Engine* active_ = nullptr;
    Engine* fading_ = nullptr;  // previous engine, faded out after a swap
    // Set by prepareToPlay and reset: the next block starts a new signal, so the controls jump
    // to their targets (the bypass values when bypassed) instead of gliding from the old ones.
    bool snap_controls_ = true;
    int fade_position_ = 0;
    int fade_length_ = 1;
    std::atomic<Engine*> incoming_{nullptr};
    static constexpr int kRetireSlots = 8;
    std::array<std::atomic<Engine*>, kRetireSlots> retired_{};
    juce::AudioBuffer<float> fade_scratch_;

    std::unique_ptr<Loader> loader_;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(NeuralFXProcessor)
};

}  // namespace plugin
}  // namespace neuralfx
