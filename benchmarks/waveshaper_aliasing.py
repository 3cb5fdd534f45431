"""How much the Waveshaper aliases, run at the audio's rate and oversampled (docs/DSP.md's table).

Not a unit test: a measurement script. A sine at 0.5 for 1 s of 48 kHz audio goes through one
Waveshaper built at 48, 96 and 192 kHz and loaded with resample=True (the kernel's converter is
then the oversampler). Printed per case: the energy off the sine's harmonics over the energy on
them (Blackman-Harris window, +-8 Hz around each harmonic below 24 kHz), in dB.

    python3 benchmarks/waveshaper_aliasing.py

The tones are a hertz off 3 kHz where needed: at 3000 Hz every alias folds onto a harmonic
(48000 / 3000 = 16), and the measure cannot see it.
"""

from __future__ import annotations

import numpy as np
from scipy.signal.windows import blackmanharris

import neuralfx
from neuralfx.dsp import Waveshaper
from neuralfx.model import Model

AUDIO_RATE = 48000
MODEL_RATES = (48000, 96000, 192000)
CASES = (("tanh", 3001.0, 24.0), ("tanh", 7000.0, 12.0), ("hardclip", 7000.0, 24.0))


def aliases_db(curve: str, tone_hz: float, drive_db: float, model_rate: int) -> float:
    t = np.arange(AUDIO_RATE) / AUDIO_RATE
    x = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
    model = Model([Waveshaper(curve, model_rate, drive_db=drive_db)], model_rate)
    effect = neuralfx.NeuralEffect.from_json(model.to_modelfile().to_json(), resample=True)
    power = np.abs(np.fft.rfft(effect(x, AUDIO_RATE).astype(np.float64) * blackmanharris(AUDIO_RATE))) ** 2
    freqs = np.fft.rfftfreq(AUDIO_RATE, 1 / AUDIO_RATE)
    on = np.zeros(freqs.shape, bool)
    for h in range(1, int(AUDIO_RATE / 2 / tone_hz) + 1):
        on |= np.abs(freqs - h * tone_hz) <= 8
    return float(10 * np.log10(power[~on].sum() / power[on].sum()))


def main() -> None:
    print("| curve, tone, drive | " + " | ".join(f"model at {r // 1000} kHz" for r in MODEL_RATES) + " |")
    print("| --- |" + " ---: |" * len(MODEL_RATES))
    for curve, tone, drive in CASES:
        cells = " | ".join(f"{aliases_db(curve, tone, drive, r):.1f} dB".replace("-", "\N{MINUS SIGN}") for r in MODEL_RATES)
        print(f"| {curve}, {tone:g} Hz, {drive:+g} dB | {cells} |")


if __name__ == "__main__":
    main()
