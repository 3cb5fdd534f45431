#pragma once
// A DSP block parameter in physical units: a constant from the model file's weights, or bound
// to a model knob whose smoothed 0..1 value maps onto the parameter's declared range as
// minimum + t * (maximum - minimum), in double. Twin of neuralfx/dsp/params.py.

#include "../block.hpp"
#include "../knobs.hpp"

namespace neuralfx::dsp {

struct Param {
    double value = 0.0;  // the weight, used while not bound
    int knob = -1;       // index into the model's knobs, or -1
    double minimum = 0.0;
    double maximum = 1.0;

    bool bound() const { return knob >= 0; }

    double at(KnobBuffers knobs, int i) const {
        if (knob < 0) return value;
        return minimum + clamp_unit(static_cast<double>(knobs[knob][i])) * (maximum - minimum);
    }
};

}  // namespace neuralfx::dsp
