"""Every shipped model loads, meets its quality bar, and runs identically in torch and C++."""

from __future__ import annotations

import auraloss
import numpy as np
import pytest
import torch

import neuralfx
from neuralfx import modelfile
from neuralfx.model import Model
from neuralfx.presets import list_chains, list_models, presets_dir, resolve_model
from neuralfx.report import evaluate

from conftest import BLOCK_SIZES, TOLERANCE, kernel_blocks, plucks, sweep

MODELS = list_models()


def test_the_default_is_shipped() -> None:
    assert "crunch_amp" in MODELS and "default" in list_chains()


@pytest.mark.parametrize("name", MODELS)
def test_shipped_model_quality_and_size(name: str) -> None:
    """The bar is measured, not read: the held-out audio is remade from the file's capture
    recipe, run through the kernel, and scored by auraloss; the stored ESR must agree."""
    path = resolve_model(name)
    assert path.stat().st_size < 5 * 1024 * 1024
    meta = modelfile.load(path).metadata
    assert meta["trained_on"]
    ev = evaluate(path)
    esr = float(auraloss.time.ESRLoss()(torch.from_numpy(ev.prediction)[None], torch.from_numpy(ev.target)[None]))
    assert esr <= 0.02, esr
    assert esr == pytest.approx(meta["validation_esr"], rel=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_shipped_model_parity(name: str) -> None:
    """Kernel == torch at every block size; a model with knobs gets every knob swept from its
    minimum to its maximum across the signal, moved between blocks as a host would."""
    path = resolve_model(name)
    model = Model.load(path).eval()
    x = np.concatenate([plucks(0.3), sweep(0.2)])
    for block in BLOCK_SIZES:
        blocks = -(-len(x) // block)
        moves = [{} for _ in range(blocks)]
        for k in model.knobs:
            moves[0][k.name] = k.min
            moves[blocks // 2][k.name] = k.max
        reference = model.process_blocks(x, block, moves)
        effect = neuralfx.load(path)
        assert np.max(np.abs(kernel_blocks(effect, x, block, moves) - reference)) <= TOLERANCE, block


def test_clean_amp_grey_box_eq_recovered_its_device() -> None:
    # The recipe's device: a first-order 70 Hz high-pass, +3 dB low shelf at 200 Hz, ..., a
    # first-order 6 kHz low-pass (training/recipes/clean_amp.json). Its EQ blocks land there; with
    # DSP steps of the full range they ran to their edges instead (20 Hz, inert).
    eq_in, _, eq_out = Model.load(resolve_model("clean_amp")).blocks
    highpass, shelf = (dict((name, float(w.detach())) for name, w in band.named_parameters()) for band in eq_in.bands)
    lowpass = {name: float(w.detach()) for name, w in eq_out.bands[0].named_parameters()}
    assert highpass["frequency"] == pytest.approx(70.0, rel=0.1)
    assert shelf["frequency"] == pytest.approx(200.0, rel=0.1) and shelf["gain_db"] == pytest.approx(3.0, abs=0.5)
    assert lowpass["frequency"] == pytest.approx(6000.0, rel=0.1)


@pytest.mark.parametrize("name", list_chains())
def test_chain_presets_build(name: str) -> None:
    chain = neuralfx.Chain.from_preset(name)
    y = chain(plucks(0.2), 48000)
    assert np.all(np.isfinite(y))
    assert presets_dir().is_dir()
