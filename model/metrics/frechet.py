"""The Fréchet distance between two sets of feature vectors (FID and FVD share it), and its
bootstrap over test clips.

d² = ‖μ_a − μ_b‖² + Tr Σ_a + Tr Σ_b − 2 Tr (Σ_a Σ_b)^½ with μ, Σ the sample mean and unbiased
covariance — the quantity pytorch-fid's `calculate_frechet_distance` (and the ASVA authors'
`dists.frechet_distance`, its copy) computes with scipy's `sqrtm` of the D × D product Σ_a Σ_b.

We compute the same number without a matrix square root. Write each covariance as Σ = Fᵀ F with a
factor F of r = min(rows, D) rows: the centred, scaled features themselves when there are no more
rows than dimensions, else the Cholesky factor of Σ (an eigen-factor when Σ is singular). The
non-zero eigenvalues of Σ_a Σ_b = F_aᵀ F_a F_bᵀ F_b are those of P Pᵀ with P = F_a F_bᵀ (r_a × r_b),
i.e. the squared singular values of P, so

    Tr (Σ_a Σ_b)^½ = Σ_i sqrt(λ_i(P Pᵀ)),      Tr Σ = ‖F‖²_F.

One symmetric eigenvalue problem of size min(r_a, r_b) (float64, torch's LAPACK) replaces a
D × D Schur decomposition: with fewer rows than dimensions (FID's 2048-d features of a small test
set, FVD's 400-d ones of a few hundred clips) it is an N × N problem, and never needs pytorch-fid's
ε-regularisation of a singular product. tests/model/metrics/test_frechet.py checks it against
pytorch-fid / scipy `sqrtm` and closed forms.

With fewer samples than dimensions both covariances are singular and the number is still finite,
but noisy: callers should say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _features(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {features.shape}")
    if len(features) < 2:
        raise ValueError(f"a covariance needs at least 2 feature vectors, got {len(features)}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or inf")
    return features


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features → mean (D,) and unbiased covariance (D, D), both float64."""
    features = _features(features)
    return features.mean(axis=0), np.cov(features, rowvar=False)


@dataclass(frozen=True)
class GaussianFactor:
    """A feature set's mean (D,) and a covariance factor (r, D), float64: factorᵀ factor = the
    unbiased covariance, r = min(rows, D)."""

    mean: torch.Tensor
    factor: torch.Tensor


def gaussian_factor(features: np.ndarray | torch.Tensor, weights: np.ndarray | torch.Tensor | None = None
                    ) -> GaussianFactor:
    """Mean and covariance factor of (N, D) features; `weights` (N,) are integer repeat counts
    (a bootstrap resample), giving exactly the statistics of the rows repeated that often."""
    x = torch.as_tensor(features, dtype=torch.float64)
    w = torch.ones(len(x), dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
    keep = w > 0
    x, w = x[keep], w[keep]
    total = float(w.sum())
    if total < 2:
        raise ValueError(f"a covariance needs at least 2 feature vectors, got {total:g}")
    mean = (w[:, None] * x).sum(0) / total
    rows = (w / (total - 1)).sqrt()[:, None] * (x - mean)
    if len(rows) <= x.shape[1]:
        return GaussianFactor(mean, rows)
    cov = rows.T @ rows  # more rows than dimensions: a D × D factor is smaller
    lower, info = torch.linalg.cholesky_ex(cov)
    if int(info) == 0:
        return GaussianFactor(mean, lower.T)
    values, vectors = torch.linalg.eigh(cov)  # singular covariance: Σ = V Λ Vᵀ = (Λ^½ Vᵀ)ᵀ (Λ^½ Vᵀ)
    return GaussianFactor(mean, values.clamp_min(0).sqrt()[:, None] * vectors.T)


def frechet_distance_from_factors(a: GaussianFactor, b: GaussianFactor) -> float:
    """d² between N(a.mean, a.factorᵀ a.factor) and N(b.mean, b.factorᵀ b.factor)."""
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"feature dimensions differ: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    p = a.factor @ b.factor.T
    gram = p @ p.T if p.shape[0] <= p.shape[1] else p.T @ p
    trace_sqrt = torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().sum()  # Tr (Σ_a Σ_b)^½
    d2 = ((a.mean - b.mean) ** 2).sum() + (a.factor ** 2).sum() + (b.factor ** 2).sum() - 2 * trace_sqrt
    return float(d2)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between feature sets a (N, D) and b (M, D); 0 for identical sets."""
    a, b = _features(a), _features(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_from_factors(gaussian_factor(a), gaussian_factor(b))


def bootstrap_frechet_distances(real: np.ndarray, generated: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    """Fréchet distances (resamples,) when the test clips are resampled with replacement, paired
    (the same clips on both sides). real / generated: (N, D) or (N, R, D) per-clip features (R rows
    per clip, e.g. FID's frames 2..F); a clip drawn k times counts its rows k times."""
    real, generated = np.asarray(real), np.asarray(generated)
    if len(real) != len(generated):
        raise ValueError(f"paired bootstrap needs as many generated clips as real ones: {len(real)} vs {len(generated)}")
    rows_a = real.shape[1] if real.ndim == 3 else 1
    rows_b = generated.shape[1] if generated.ndim == 3 else 1
    a = torch.from_numpy(_features(real.reshape(-1, real.shape[-1])))  # float64 once, shared by every draw
    b = torch.from_numpy(_features(generated.reshape(-1, generated.shape[-1])))
    rng = np.random.default_rng(seed)
    draws = np.empty(resamples)
    for k in range(resamples):
        counts = np.bincount(rng.integers(0, len(real), len(real)), minlength=len(real))
        draws[k] = frechet_distance_from_factors(gaussian_factor(a, np.repeat(counts, rows_a)),
                                                 gaussian_factor(b, np.repeat(counts, rows_b)))
    return draws
