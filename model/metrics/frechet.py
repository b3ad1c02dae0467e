"""The Fréchet distance between two sets of feature vectors (FID and FVD share it).

d² = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) with μ, Σ the sample mean and unbiased covariance.

The matrix square root and its corner cases are pytorch-fid's `calculate_frechet_distance`, the
function the ASVA authors' `dists.frechet_distance` reproduces: scipy `sqrtm` of Σ_a Σ_b; when that
is not finite (singular product), ε = 1e-6 is added to both diagonals and the root taken again; a
small imaginary part from rounding is dropped, a large one is an error. With fewer samples than
dimensions (the usual case for FVD's 400-d features on a few hundred clips) both covariances are
singular and the number is still finite, but noisy: callers should say so.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance
from scipy.linalg import LinAlgWarning


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features → mean (D,) and unbiased covariance (D, D), both float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {features.shape}")
    if len(features) < 2:
        raise ValueError(f"a covariance needs at least 2 feature vectors, got {len(features)}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or inf")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance_from_statistics(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray,
                                     sigma_b: np.ndarray) -> float:
    """d² between N(mu_a, sigma_a) and N(mu_b, sigma_b): means (D,), covariances (D, D)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # pytorch-fid passes sqrtm's `disp` (deprecated in scipy 1.17, same result) and prints a
        # note when it has to regularise a singular product: neither belongs on our stdout.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", LinAlgWarning)  # singular covariances are expected (see above)
        return float(calculate_frechet_distance(mu_a, sigma_a, mu_b, sigma_b))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between feature sets a (N, D) and b (M, D); 0 for identical sets."""
    mu_a, sigma_a = feature_statistics(a)
    mu_b, sigma_b = feature_statistics(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature dimensions differ: {mu_a.shape[0]} vs {mu_b.shape[0]}")
    return frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)
