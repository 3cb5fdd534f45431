"""Training and validation losses, all from auraloss.

ESR and DC: Wright and Välimäki, "Perceptual loss function for neural modelling of audio
systems", ICASSP 2020. Multi-resolution STFT: Yamamoto et al., "Parallel WaveGAN", ICASSP 2020."""

from __future__ import annotations

from dataclasses import dataclass

import auraloss
import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class LossWeights:
    esr: float = 1.0
    dc: float = 1.0
    stft: float = 0.1


class TrainingLoss(nn.Module):
    """weights.esr * ESR + weights.dc * DC + weights.stft * MR-STFT, on (batch, samples)."""

    def __init__(self, weights: LossWeights = LossWeights(), segment_samples: int = 2048) -> None:
        super().__init__()
        self.weights = weights
        self.esr = auraloss.time.ESRLoss()
        self.dc = auraloss.time.DCLoss()
        # Resolutions that fit in one training segment (the STFT pads by half a window).
        ffts = [n for n in (256, 1024, 2048) if n <= segment_samples] or [segment_samples // 2]
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=ffts, hop_sizes=[n // 4 for n in ffts], win_lengths=ffts
        )

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        # ESR and DC pool the whole batch: per-segment ratios explode on near-silent segments.
        p, t = prediction.reshape(1, -1), target.reshape(1, -1)
        loss = self.weights.esr * self.esr(p, t) + self.weights.dc * self.dc(p, t)
        if self.weights.stft:
            loss = loss + self.weights.stft * self.stft(prediction.unsqueeze(1), target.unsqueeze(1))
        return loss


def esr(prediction: Tensor, target: Tensor) -> float:
    """Error-to-signal ratio as auraloss defines it, over the whole signal."""
    return float(auraloss.time.ESRLoss()(prediction.reshape(1, -1), target.reshape(1, -1)))


def stft_distance(prediction: Tensor, target: Tensor) -> float:
    return float(auraloss.freq.MultiResolutionSTFTLoss()(prediction.reshape(1, 1, -1), target.reshape(1, 1, -1)))
