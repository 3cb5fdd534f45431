#include "PluginProcessor.h"

#include <chrono>
#include <cmath>

#include "neuralfx/model_io.hpp"
#include "presets.hpp"

namespace neuralfx {
namespace plugin {

namespace {

// Enough decimals that Pedalboard's 1000-step scan of a knob sees distinct texts.
juce::String format_value(float value, float span) {
    const int decimals = juce::jlimit(1, 6, 4 - static_cast<int>(std::ceil(std::log10(std::max(span, 1e-6f)))));
    return juce::String(value, decimals);
}

std::string trimmed_start(const char* data, size_t size) {
    size_t i = 0;
    if (size >= 3 && static_cast<unsigned char>(data[0]) == 0xEF && static_cast<unsigned char>(data[1]) == 0xBB &&
        static_cast<unsigned char>(data[2]) == 0xBF)
        i = 3;  // UTF-8 byte order mark
    while (i < size && std::isspace(static_cast<unsigned char>(data[i]))) ++i;
    return std::string(data + i, size - i);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parameters

KnobSlotParameter::KnobSlotParameter(NeuralFXProcessor& owner, int slot, float default_value)
    : juce::AudioProcessorParameterWithID(juce::ParameterID{"knob" + juce::String(slot + 1), 1},
                                          "knob" + juce::String(slot + 1)),
      owner_(owner),
      slot_(slot),
      default_(default_value),
      value_(default_value) {}

juce::String KnobSlotParameter::getText(float value, int maximum_length) const {
    // As setValue holds it: a host may ask for the text of any value (Pedalboard's raw_value
    // outside 0..1 read 18.00 dB on a knob that stops at 12).
    value = std::isnan(value) ? getValue() : juce::jlimit(0.0f, 1.0f, value);
    KnobSpec spec;
    juce::String text;
    if (owner_.slot_knob(slot_, spec)) {
        const float span = spec.maximum - spec.minimum;
        text = format_value(spec.minimum + value * span, span);
        if (!spec.unit.empty()) text << " " << juce::String::fromUTF8(spec.unit.c_str());
    } else {
        text = format_value(value, 1.0f);  // unused slot: a plain 0..1 value
    }
    return text.substring(0, maximum_length);
}

float KnobSlotParameter::getValueForText(const juce::String& text) const {
    const float number = text.trim().getFloatValue();  // ignores a trailing unit
    KnobSpec spec;
    if (owner_.slot_knob(slot_, spec)) return spec.normalize(number);
    return juce::jlimit(0.0f, 1.0f, number);
}

StatusParameter::StatusParameter(NeuralFXProcessor& owner)
    : juce::AudioProcessorParameterWithID(juce::ParameterID{"status", 1}, "Status"), owner_(owner) {}

juce::String StatusParameter::getText(float, int maximum_length) const {
    return juce::String::fromUTF8(owner_.status().c_str()).substring(0, maximum_length);
}

// ---------------------------------------------------------------------------------------------
// Loader thread: reacts to a model chosen while audio runs (the audio thread only notices the
// parameter moved) and deletes engines the audio thread has let go of.

class NeuralFXProcessor::Loader final : public juce::Thread {
public:
    explicit Loader(NeuralFXProcessor& owner) : juce::Thread("NeuralFX loader"), owner_(owner) {}

    void run() override {
        std::uint32_t blocks_seen = owner_.audio_blocks_.load(std::memory_order_relaxed);
        auto last_block = std::chrono::steady_clock::now() - kBusyWindow;
        while (!threadShouldExit()) {
            // While audio runs, a model automated there is built within 10 ms. An instance the
            // host has not run for a second looks ten times less often: at 10 ms, the loader
            // threads of 40 idle instances in Pedalboard took 3.2 % of a core just waking up.
            // The window, not the last 10 ms alone, decides: blocks of 2048 samples arrive every
            // 43 ms, and most 10 ms looks saw none (a preset then took a median of 50 ms to load).
            const auto now = std::chrono::steady_clock::now();
            const std::uint32_t blocks = owner_.audio_blocks_.load(std::memory_order_relaxed);
            if (blocks != blocks_seen) last_block = now;
            blocks_seen = blocks;
            wait(now - last_block < kBusyWindow ? kBusyPollMs : kIdlePollMs);
            owner_.collect_garbage();
            if (owner_.model_param_->getIndex() != owner_.built_choice_.load()) owner_.select(kFollowParameter);
        }
    }

private:
    static constexpr int kBusyPollMs = 10;
    static constexpr int kIdlePollMs = 100;
    static constexpr std::chrono::seconds kBusyWindow{1};
    NeuralFXProcessor& owner_;
};

// ---------------------------------------------------------------------------------------------

NeuralFXProcessor::NeuralFXProcessor()
    : AudioProcessor(BusesProperties()
                         .withInput("Input", juce::AudioChannelSet::stereo(), true)
                         .withOutput("Output", juce::AudioChannelSet::stereo(), true)) {
    juce::StringArray choices;
    for (int i = 0; i < num_presets(); ++i) choices.add(embedded_presets()[i].name);
    choices.add(kCustomChoiceName);

    preset_knobs_.resize(static_cast<size_t>(num_presets()));
    for (int i = 0; i < num_presets(); ++i) {
        try {
            preset_knobs_[static_cast<size_t>(i)] = load_model_from_string(embedded_preset_text(i))->knobs();
        } catch (const std::exception&) {
            // Reported through the status when the preset is chosen (build_for_choice).
        }
    }
    // Slot defaults come from the default model (the first preset), so a fresh plugin sounds
    // like that model with its declared defaults.
    const std::vector<KnobSpec> default_knobs = preset_knobs_.empty() ? std::vector<KnobSpec>{} : preset_knobs_[0];

    addParameter(model_param_ = new juce::AudioParameterChoice(juce::ParameterID{"model", 1}, "Model", choices, 0));
    const auto db_text = [](float v, int) { return juce::String(v, 2); };
    addParameter(input_gain_param_ = new juce::AudioParameterFloat(
                     juce::ParameterID{"input_gain", 1}, "Input Gain", juce::NormalisableRange<float>(-24.0f, 24.0f), 0.0f,
                     juce::AudioParameterFloatAttributes().withLabel("dB").withStringFromValueFunction(db_text)));
    addParameter(output_gain_param_ = new juce::AudioParameterFloat(
                     juce::ParameterID{"output_gain", 1}, "Output Gain", juce::NormalisableRange<float>(-24.0f, 24.0f), 0.0f,
                     juce::AudioParameterFloatAttributes().withLabel("dB").withStringFromValueFunction(db_text)));
    addParameter(mix_param_ = new juce::AudioParameterFloat(
                     juce::ParameterID{"mix", 1}, "Mix", juce::NormalisableRange<float>(0.0f, 100.0f), 100.0f,
                     juce::AudioParameterFloatAttributes().withLabel("%").withStringFromValueFunction(
                         [](float v, int) { return juce::String(v, 1); })));
    for (int slot = 0; slot < kNumKnobSlots; ++slot) {
        float default_value = 0.5f;
        if (slot < static_cast<int>(default_knobs.size()))
            default_value = default_knobs[static_cast<size_t>(slot)].normalize(default_knobs[static_cast<size_t>(slot)].default_value);
        auto* p = new KnobSlotParameter(*this, slot, default_value);
        slot_params_[static_cast<size_t>(slot)] = p;
        addParameter(p);
    }
    addParameter(new StatusParameter(*this));

    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        build_for_choice(0);
        built_choice_.store(0);
    }
    loader_ = std::make_unique<Loader>(*this);
    loader_->startThread();
}

NeuralFXProcessor::~NeuralFXProcessor() {
    loader_->stopThread(5000);
    collect_garbage();
    delete incoming_.exchange(nullptr);
    delete fading_;
    delete active_;
}

int NeuralFXProcessor::num_presets() const { return num_embedded_presets(); }

bool NeuralFXProcessor::isBusesLayoutSupported(const BusesLayout& layouts) const {
    // JUCE's VST3 host (and with it Pedalboard) reads the latency after setupProcessing has set
    // the new sample rate but before setActive runs prepareToPlay, and a latency change reported
    // from prepareToPlay reaches it only asynchronously, one render call late. The bus-layout
    // check is the one call JUCE makes into the plugin in between, so the latency for the new
    // rate is published here; it depends only on the rate and the selected model.
    const_cast<NeuralFXProcessor*>(this)->update_latency_for_host_rate(getSampleRate());
    const auto in = layouts.getMainInputChannelSet();
    const auto out = layouts.getMainOutputChannelSet();
    if (in != out) return false;
    return in == juce::AudioChannelSet::mono() || in == juce::AudioChannelSet::stereo();
}

std::string NeuralFXProcessor::status() const {
    // A model just chosen is built by the loader thread (it looks every 10 ms while audio runs
    // and for a second after, every 100 ms otherwise); until then the last build's status would
    // describe the model being replaced.
    const int wanted = model_param_->getIndex();
    if (wanted != built_choice_.load()) return "loading: " + model_param_->choices[wanted].toStdString();
    std::lock_guard<std::mutex> lock(info_mutex_);
    return status_;
}

// The chosen model's knob, also while the loader thread is still building it: a value set right
// after choosing a preset (`fx.model = "crunch_amp"; fx.knob1 = 12`) was read in the previous
// model's units (clean_amp's 0..12 dB made it the slot's top, 18 dB once crunch_amp ran).
bool NeuralFXProcessor::slot_knob(int slot, KnobSpec& spec) const {
    const int choice = model_param_->getIndex();
    std::lock_guard<std::mutex> lock(info_mutex_);
    const std::vector<KnobSpec>& knobs =
        choice >= 0 && choice < num_presets() ? preset_knobs_[static_cast<size_t>(choice)] : custom_knobs_;
    if (slot < 0 || slot >= static_cast<int>(knobs.size())) return false;
    spec = knobs[static_cast<size_t>(slot)];
    return true;
}

void NeuralFXProcessor::put_slots_at_defaults(const std::vector<KnobSpec>& knobs) {
    for (int slot = 0; slot < std::min(kNumKnobSlots, static_cast<int>(knobs.size())); ++slot) {
        const KnobSpec& k = knobs[static_cast<size_t>(slot)];
        slot_params_[static_cast<size_t>(slot)]->setValueNotifyingHost(k.normalize(k.default_value));
    }
}

std::vector<KnobSpec> NeuralFXProcessor::declared_knobs(const std::string& model_json) {
    try {
        return load_model_from_string(model_json)->knobs();
    } catch (const std::exception&) {
        return {};
    }
}

// The custom model is replaced: its slots mean nothing until the new one is built.
void NeuralFXProcessor::forget_custom_knobs() {
    std::lock_guard<std::mutex> lock(info_mutex_);
    custom_knobs_.clear();
}

void NeuralFXProcessor::set_info(const std::string& status, int choice, const std::vector<KnobSpec>& knobs) {
    std::lock_guard<std::mutex> lock(info_mutex_);
    status_ = status;
    if (choice == custom_choice_index()) custom_knobs_ = knobs;
}

void NeuralFXProcessor::update_latency_for_host_rate(double host_rate) {
    const double model_rate = model_rate_.load();
    const long rate = std::lround(host_rate);
    if (rate <= 0) return;
    // No model, or a pair of rates HostRateModel refuses (the engine then passes audio through):
    // no latency. Its own test, so the two cannot disagree: this one once left out the filter-tap
    // limit and a model rate that is not whole, and Pedalboard moved the passed-through audio
    // 2867 samples early for a 1 kHz model at 44.1 kHz.
    const bool runs = model_rate > 0.0 && HostRateModel::supports(host_rate, model_rate);
    setLatencySamples(runs ? HostRateModel::latency_for(rate, std::lround(model_rate), model_latency_.load()) : 0);
}

Controls NeuralFXProcessor::read_controls() const {
    // NaN automation stays NaN, which SmoothedControl ignores; decibelsToGain would turn it
    // into a gain of 0 (silence).
    auto gain = [](float db) { return std::isnan(db) ? db : juce::Decibels::decibelsToGain(db); };
    Controls c;
    c.input_gain = gain(input_gain_param_->get());
    c.output_gain = gain(output_gain_param_->get());
    c.mix = mix_param_->get() / 100.0f;
    return c;
}

// Real-time safe: atomics in, atomics out (the kernel smooths knob moves).
void NeuralFXProcessor::push_knobs(Engine& engine) const {
    Model* model = engine.model();
    if (!model) return;
    const int count = std::min(kNumKnobSlots, engine.num_knobs());
    for (int k = 0; k < count; ++k) engine.set_knob(k, slot_value(*model, k));
}

float NeuralFXProcessor::slot_value(const Model& model, int k) const {
    const KnobSpec& s = model.knobs()[static_cast<size_t>(k)];
    return s.minimum + slot_params_[static_cast<size_t>(k)]->getValue() * (s.maximum - s.minimum);
}

std::unique_ptr<Engine> NeuralFXProcessor::build_for_choice(int choice) {
    std::unique_ptr<Model> model;
    std::string status;
    std::string name;
    if (choice >= 0 && choice < num_presets()) {
        name = std::string("preset '") + embedded_presets()[choice].name + "'";
        try {
            model = load_model_from_string(embedded_preset_text(choice));
        } catch (const std::exception& e) {
            status = "error: " + name + ": " + e.what();
        }
    } else {
        name = "custom model";
        if (custom_json_.empty()) {
            status = custom_error_.empty() ? "error: no custom model loaded (deliver one through the plugin state)"
                                           : custom_error_;
        } else {
            try {
                model = load_model_from_string(custom_json_);
            } catch (const std::exception& e) {
                status = std::string("error: custom model: ") + e.what();
            }
        }
    }
    std::vector<KnobSpec> knobs = model ? model->knobs() : std::vector<KnobSpec>{};
    const double model_rate = model ? model->sample_rate() : 0.0;
    model_rate_.store(model_rate);
    model_latency_.store(model ? model->latency_samples() : 0);
    model_tail_.store(model ? model->tail_seconds() : 0.0);

    std::unique_ptr<Engine> engine;
    if (prepared_) {
        // The engine's prepare() settles the model at these values, so the reset below restores
        // that state instead of settling a second time (it had settled at the defaults first).
        for (int k = 0; model && k < std::min(kNumKnobSlots, static_cast<int>(knobs.size())); ++k)
            model->set_knob(k, slot_value(*model, k));
        try {
            engine = std::make_unique<Engine>(std::move(model), rate_, channels_, block_);
        } catch (const std::exception& e) {
            status = std::string("error: ") + name + ": " + e.what();
            engine = std::make_unique<Engine>(nullptr, rate_, channels_, block_);
        }
        push_knobs(*engine);
        engine->reset(read_controls());
        ++engines_built_;
    }
    if (status.empty()) {
        status = "ok: " + name;
        if (engine && engine->host_rate_model() && engine->host_rate_model()->resampling())
            status += ", resampling " + std::to_string(std::lround(rate_)) + " Hz <-> " +
                      std::to_string(std::lround(model_rate)) + " Hz";
        if (knobs.size() > static_cast<size_t>(kNumKnobSlots)) status += ", knobs after the 8th stay at their defaults";
    }
    set_info(status, choice, knobs);
    return engine;
}

void NeuralFXProcessor::select(int choice) {
    int latency = -1;
    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        if (choice == kFollowParameter) {
            // Read under the lock: a state being applied concurrently has settled the parameter.
            choice = model_param_->getIndex();
            if (choice == built_choice_.load()) return;
        }
        std::unique_ptr<Engine> engine = build_for_choice(choice);
        built_choice_.store(choice);
        if (engine) {
            latency = engine->latency_samples();
            hand_over(std::move(engine));
        }
    }
    // Outside the lock: the host may call back into the plugin.
    if (latency >= 0) setLatencySamples(latency);
}

void NeuralFXProcessor::hand_over(std::unique_ptr<Engine> engine) {
    // An engine the audio thread never picked up was never seen by it: safe to delete here.
    delete incoming_.exchange(engine.release(), std::memory_order_acq_rel);
}

bool NeuralFXProcessor::retire(Engine* engine) {
    for (auto& slot : retired_) {
        Engine* expected = nullptr;
        if (slot.compare_exchange_strong(expected, engine, std::memory_order_acq_rel)) return true;
    }
    return false;
}

void NeuralFXProcessor::collect_garbage() {
    for (auto& slot : retired_) delete slot.exchange(nullptr, std::memory_order_acq_rel);
}

// ---------------------------------------------------------------------------------------------
// Audio

void NeuralFXProcessor::prepareToPlay(double sample_rate, int max_block_size) {
    int latency = 0;
    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        const int channels = juce::jlimit(1, Engine::kMaxChannels, getTotalNumInputChannels());
        const int choice = model_param_->getIndex();
        // The engine in use fits when nothing it was built for changed: its output does not
        // depend on the block length (it cuts longer blocks itself). Pedalboard prepares again
        // whenever a call brings more samples than any before, in the middle of a stream
        // (reset=False): rebuilt, the engine restarted from rest there (0.77 off the whole-array
        // output). After releaseResources (a host deactivating, Pedalboard's reset=True) the same
        // engine is reset instead of rebuilt: 8-9 ms a reset for an amp before.
        const bool fits = active_ != nullptr && fading_ == nullptr && incoming_.load() == nullptr &&
                          sample_rate == rate_ && channels == channels_ && choice == built_choice_.load();
        rate_ = sample_rate;
        block_ = std::max(max_block_size, 1);
        channels_ = channels;
        prepared_ = true;
        fade_scratch_.setSize(channels_, block_);
        fade_length_ = std::max(1, static_cast<int>(std::lround(kSwapFadeSeconds * sample_rate)));
        if (!fits) {
            // Audio is stopped while a host prepares: replace every engine directly.
            delete incoming_.exchange(nullptr);
            delete fading_;
            fading_ = nullptr;
            delete active_;
            active_ = build_for_choice(choice).release();
            built_choice_.store(choice);
            snap_controls_ = true;
        } else if (released_) {
            reset();
        }
        released_ = false;
        latency = active_->latency_samples();
    }
    collect_garbage();
    setLatencySamples(latency);
}

void NeuralFXProcessor::reset() {
    // Some hosts reset from the audio thread: nothing here allocates or frees.
    if (fading_ != nullptr) {
        if (retire(fading_))
            fading_ = nullptr;
        else
            fade_position_ = fade_length_;
    }
    if (fading_ == nullptr) {
        if (Engine* fresh = incoming_.exchange(nullptr, std::memory_order_acq_rel)) {
            if (active_ != nullptr && !retire(active_)) {
                fading_ = active_;
                fade_position_ = fade_length_;
            }
            active_ = fresh;
        }
    }
    if (active_ != nullptr) {
        push_knobs(*active_);
        active_->reset(read_controls());
    }
    snap_controls_ = true;
}

void NeuralFXProcessor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) { process(buffer, false); }

void NeuralFXProcessor::processBlockBypassed(juce::AudioBuffer<float>& buffer, juce::MidiBuffer&) {
    process(buffer, true);
}

void NeuralFXProcessor::process(juce::AudioBuffer<float>& buffer, bool bypassed) {
    juce::ScopedNoDenormals no_denormals;
    audio_blocks_.fetch_add(1, std::memory_order_relaxed);
    const int n = buffer.getNumSamples();
    const int in_channels = getTotalNumInputChannels();
    for (int ch = in_channels; ch < getTotalNumOutputChannels(); ++ch) buffer.clear(ch, 0, n);

    // Pick up a model built off the audio thread; the one it replaces fades out, then is
    // handed back for deletion elsewhere.
    if (fading_ == nullptr) {
        if (Engine* fresh = incoming_.exchange(nullptr, std::memory_order_acq_rel)) {
            if (active_ != nullptr) {
                fading_ = active_;
                fade_position_ = 0;
            }
            active_ = fresh;
            engines_swapped_in_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (active_ == nullptr) return;  // not prepared yet: pass through

    Controls controls = read_controls();
    if (bypassed) controls = Controls{1.0f, 1.0f, 0.0f};
    // reset() and prepareToPlay cannot know whether the host will call processBlock or
    // processBlockBypassed next; without this a bypassed render began wet and glided to dry
    // over ~130 ms.
    if (snap_controls_) active_->snap(controls);
    snap_controls_ = false;
    push_knobs(*active_);
    const bool fading = fading_ != nullptr && fade_position_ < fade_length_;
    if (fading) push_knobs(*fading_);

    const int channels = std::min({in_channels, buffer.getNumChannels(), active_->channels()});
    float* const* audio = buffer.getArrayOfWritePointers();
    // Before anything keeps it: the rate converters, the dry delay and the model's states.
    for (int ch = 0; ch < channels; ++ch) neuralfx::limit_input(audio[ch], n);
    for (int start = 0; start < n; start += block_) {
        const int len = std::min(block_, n - start);
        float* chunk[Engine::kMaxChannels];
        for (int ch = 0; ch < channels; ++ch) chunk[ch] = audio[ch] + start;
        const bool fade_chunk = fading_ != nullptr && fade_position_ < fade_length_;
        if (fade_chunk)
            for (int ch = 0; ch < channels; ++ch) fade_scratch_.copyFrom(ch, 0, chunk[ch], len);
        active_->process(chunk, channels, len, controls);
        if (fade_chunk) {
            float* old_chunk[Engine::kMaxChannels];
            for (int ch = 0; ch < channels; ++ch) old_chunk[ch] = fade_scratch_.getWritePointer(ch);
            fading_->process(old_chunk, channels, len, controls);
            for (int i = 0; i < len; ++i) {
                const float t = std::min(1.0f, static_cast<float>(fade_position_ + i) / static_cast<float>(fade_length_));
                for (int ch = 0; ch < channels; ++ch) chunk[ch][i] = t * chunk[ch][i] + (1.0f - t) * old_chunk[ch][i];
            }
            fade_position_ += len;
        }
    }
    if (fading_ != nullptr && fade_position_ >= fade_length_ && retire(fading_)) fading_ = nullptr;
}

// ---------------------------------------------------------------------------------------------
// State

void NeuralFXProcessor::getStateInformation(juce::MemoryBlock& dest) {
    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        if (rejected_state_ && model_param_->getIndex() == custom_choice_index()) {
            dest.replaceAll(rejected_state_->data(), rejected_state_->size());
            return;
        }
    }
    juce::XmlElement xml(kStateTag);
    xml.setAttribute("format", kStateFormatVersion);
    const int choice = model_param_->getIndex();
    xml.setAttribute("model", model_param_->choices[choice]);
    xml.setAttribute("status", juce::String::fromUTF8(status().c_str()));
    for (juce::AudioProcessorParameter* p : getParameters()) {
        auto* with_id = dynamic_cast<juce::AudioProcessorParameterWithID*>(p);
        if (with_id == nullptr || with_id->paramID == "status" || p == model_param_) continue;
        auto* e = xml.createNewChildElement("PARAM");
        e->setAttribute("id", with_id->paramID);
        e->setAttribute("value", static_cast<double>(p->getValue()));
    }
    // What each knob slot means for the current model, for a reader of the state (not read back).
    for (int slot = 0; slot < kNumKnobSlots; ++slot) {
        KnobSpec spec;
        if (!slot_knob(slot, spec)) break;
        auto* e = xml.createNewChildElement("KNOB");
        e->setAttribute("slot", "knob" + juce::String(slot + 1));
        e->setAttribute("name", juce::String::fromUTF8(spec.name.c_str()));
        e->setAttribute("min", static_cast<double>(spec.minimum));
        e->setAttribute("max", static_cast<double>(spec.maximum));
        e->setAttribute("default", static_cast<double>(spec.default_value));
        e->setAttribute("unit", juce::String::fromUTF8(spec.unit.c_str()));
    }
    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        if (!custom_json_.empty())
            xml.createNewChildElement("CUSTOM_MODEL")->addTextElement(juce::String::fromUTF8(custom_json_.data(), static_cast<int>(custom_json_.size())));
    }
    const std::string text = xml.toString().toStdString();
    dest.replaceAll(text.data(), text.size());
}

void NeuralFXProcessor::set_parameter_from_state(juce::AudioProcessorParameter& p, float value) {
    // jlimit lets NaN through (value="nan" in a state): it showed as nan and was saved again.
    p.setValueNotifyingHost(std::isfinite(value) ? juce::jlimit(0.0f, 1.0f, value) : p.getDefaultValue());
}

bool NeuralFXProcessor::apply_state_xml(const juce::XmlElement& xml, std::string& error) {
    if (!xml.hasTagName(kStateTag)) {
        error = "root element is <" + xml.getTagName().toStdString() + ">, expected <" + kStateTag + ">";
        return false;
    }
    const int format = xml.getIntAttribute("format", -1);
    if (format != kStateFormatVersion) {
        error = "state format " + std::to_string(format) + ", this build reads " + std::to_string(kStateFormatVersion);
        return false;
    }
    const juce::String model_name = xml.getStringAttribute("model");
    const int choice = model_param_->choices.indexOf(model_name);
    if (choice < 0) {
        error = "state selects model '" + model_name.toStdString() + "', which this build does not ship";
        return false;
    }
    std::string custom;
    if (const auto* e = xml.getChildByName("CUSTOM_MODEL")) custom = e->getAllSubText().toStdString();
    if (choice == custom_choice_index() && custom.empty()) {
        error = "state selects a custom model but carries no CUSTOM_MODEL";
        return false;
    }
    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        custom_json_ = custom;
        custom_error_.clear();
        forget_custom_knobs();
        rejected_state_.reset();
    }
    // A knob the state leaves out is at the model's default (a hand-written state may name none).
    put_slots_at_defaults(choice < num_presets() ? preset_knobs_[static_cast<size_t>(choice)] : declared_knobs(custom));
    for (const auto* e : xml.getChildWithTagNameIterator("PARAM")) {
        const juce::String id = e->getStringAttribute("id");
        for (juce::AudioProcessorParameter* p : getParameters()) {
            auto* with_id = dynamic_cast<juce::AudioProcessorParameterWithID*>(p);
            if (with_id != nullptr && with_id->paramID == id && id != "status" && p != model_param_)
                set_parameter_from_state(*p, static_cast<float>(e->getDoubleAttribute("value", p->getDefaultValue())));
        }
    }
    set_parameter_from_state(*model_param_, model_param_->convertTo0to1(static_cast<float>(choice)));
    select(choice);
    return true;
}

void NeuralFXProcessor::setStateInformation(const void* data, int size) {
    std::string error;
    try {
        const std::string text = data != nullptr && size > 0 ? trimmed_start(static_cast<const char*>(data), static_cast<size_t>(size))
                                                            : std::string();
        if (!text.empty() && text[0] == '{') {
            // A bare model file: the simplest way for a host to hand the plugin any model.
            {
                std::lock_guard<std::mutex> lock(build_mutex_);
                custom_json_ = text;
                custom_error_.clear();
                forget_custom_knobs();
                rejected_state_.reset();
            }
            // Its knobs start at the defaults it declares (they took the slots' old positions: a Gain
            // knob over -60..24 dB declaring 0 dB ran at -18 dB).
            put_slots_at_defaults(declared_knobs(text));
            set_parameter_from_state(*model_param_, model_param_->convertTo0to1(static_cast<float>(custom_choice_index())));
            select(custom_choice_index());
            return;
        }
        std::unique_ptr<juce::XmlElement> xml;
        if (!text.empty() && text[0] == '<')
            xml = juce::XmlDocument::parse(juce::String::fromUTF8(text.data(), static_cast<int>(text.size())));
        else if (data != nullptr && size > 0)
            xml = getXmlFromBinary(data, size);  // JUCE's own binary wrapping, for hosts that add it
        if (xml == nullptr)
            error = text.empty() ? "empty state" : "not NeuralFX state XML, nor a model file";
        else if (apply_state_xml(*xml, error))
            return;
    } catch (const std::exception& e) {
        error = e.what();
    } catch (...) {
        error = "unknown failure";
    }
    // A state that cannot be applied leaves the plugin passing audio through unchanged, with
    // the reason in its status, rather than running whatever model happened to be loaded.
    {
        std::lock_guard<std::mutex> lock(build_mutex_);
        custom_json_.clear();
        custom_error_ = "error: bad plugin state: " + error;
        forget_custom_knobs();
        rejected_state_.emplace(data != nullptr && size > 0 ? static_cast<const char*>(data) : "",
                                data != nullptr && size > 0 ? static_cast<size_t>(size) : 0);
    }
    set_parameter_from_state(*model_param_, model_param_->convertTo0to1(static_cast<float>(custom_choice_index())));
    select(custom_choice_index());
}

}  // namespace plugin
}  // namespace neuralfx

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new neuralfx::plugin::NeuralFXProcessor(); }
