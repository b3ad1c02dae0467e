"""Fréchet distance: closed forms, pytorch-fid (scipy sqrtm), torchmetrics, identical sets, the
bootstrap against recomputation on duplicated rows, bad input."""

import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import _compute_fid

from pytorch_fid.fid_score import calculate_frechet_distance

from model.metrics.frechet import bootstrap_frechet_distances, feature_statistics, frechet_distance


def samples_with_moments(mean: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n samples whose sample mean and unbiased sample covariance are exactly `mean` / `cov`."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whitened: sample cov = I
    return mean + z @ np.linalg.cholesky(cov).T


def test_two_diagonal_gaussians_match_the_closed_form():
    # Commuting covariances: d² = |μa − μb|² + Σ (σa − σb)², σ the standard deviations.
    mu_a, mu_b = np.array([0.0, 1.0, -2.0, 0.5, 3.0]), np.array([1.0, 1.0, 0.0, 0.5, -1.0])
    var_a, var_b = np.array([1.0, 4.0, 0.25, 9.0, 2.0]), np.array([4.0, 1.0, 0.25, 1.0, 0.5])
    a = samples_with_moments(mu_a, np.diag(var_a), 400, seed=0)
    b = samples_with_moments(mu_b, np.diag(var_b), 300, seed=1)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_two_non_commuting_2d_gaussians_match_the_closed_form():
    # For 2 × 2: Tr((Σa Σb)^½) = sqrt(Tr(Σa Σb) + 2 sqrt(det Σa det Σb)).
    mu_a, mu_b = np.array([0.0, 0.0]), np.array([2.0, -1.0])
    cov_a = np.array([[2.0, 0.8], [0.8, 1.0]])
    cov_b = np.array([[1.0, -0.3], [-0.3, 3.0]])
    a = samples_with_moments(mu_a, cov_a, 200, seed=2)
    b = samples_with_moments(mu_b, cov_b, 250, seed=3)
    tr_sqrt = np.sqrt(np.trace(cov_a @ cov_b) + 2 * np.sqrt(np.linalg.det(cov_a) * np.linalg.det(cov_b)))
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_matches_a_direct_scipy_sqrtm_computation():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 16)) @ rng.standard_normal((16, 16))
    b = rng.standard_normal((200, 16)) * 1.5 + 0.3
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_equals_torchmetrics_fid_on_the_same_feature_vectors():
    rng = np.random.default_rng(5)
    real = rng.standard_normal((500, 32)) * rng.uniform(0.5, 2, 32)
    fake = rng.standard_normal((400, 32)) @ (np.eye(32) + 0.1 * rng.standard_normal((32, 32))) + 0.2
    (mu_r, cov_r), (mu_f, cov_f) = feature_statistics(real), feature_statistics(fake)
    theirs = _compute_fid(*(torch.from_numpy(x) for x in (mu_r, cov_r, mu_f, cov_f))).item()
    assert frechet_distance(real, fake) == pytest.approx(theirs, rel=1e-8)


@pytest.mark.parametrize("n, dim", [(200, 8), (20, 64)], ids=["full-rank", "singular"])
def test_identical_sets_give_zero(n, dim):
    feats = np.random.default_rng(6).standard_normal((n, dim)).astype(np.float32)
    scale = np.trace(np.cov(feats, rowvar=False))
    assert abs(frechet_distance(feats, feats.copy())) < 1e-6 * scale


def test_singular_covariances_give_a_finite_positive_distance():
    # Fewer samples than dimensions, as FVD's 400-d features on a few hundred clips.
    rng = np.random.default_rng(7)
    d = frechet_distance(rng.standard_normal((10, 50)), rng.standard_normal((12, 50)) + 1.0)
    assert np.isfinite(d) and d > 50  # the mean shift alone contributes 50


def pytorch_fid_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The reference: pytorch-fid's sqrtm-based function on the same statistics."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecated sqrtm `disp` argument, singular-product notes
        return float(calculate_frechet_distance(*feature_statistics(a), *feature_statistics(b)))


@pytest.mark.parametrize("n_a, n_b, dim", [(400, 300, 64), (120, 90, 256), (700, 40, 96)],
                         ids=["more-rows-than-dims", "fewer-rows-than-dims", "mixed"])
def test_equals_pytorch_fid_sqrtm_on_random_data(n_a, n_b, dim):
    rng = np.random.default_rng(n_a + dim)
    a = rng.standard_normal((n_a, dim)) @ rng.standard_normal((dim, dim)) * 0.3 + rng.uniform(-1, 1, dim)
    b = np.abs(rng.standard_normal((n_b, dim))) ** 1.5 + 0.2  # a non-Gaussian, shifted set
    assert frechet_distance(a, b) == pytest.approx(pytorch_fid_distance(a, b), rel=1e-6)


def test_a_singular_covariance_with_more_rows_than_dims_equals_pytorch_fid():
    # 500 rows in a 20-d subspace of 48 dims: the Cholesky factor does not exist, the eigen-factor does.
    rng = np.random.default_rng(8)
    a = rng.standard_normal((500, 20)) @ rng.standard_normal((20, 48))
    b = rng.standard_normal((300, 48)) + 0.5
    assert frechet_distance(a, b) == pytest.approx(pytorch_fid_distance(a, b), rel=1e-6)


def test_bootstrap_draws_equal_recomputing_on_the_resampled_rows():
    # Paired resampling of clips (3 rows each, as FID's frames); each draw = pytorch-fid on the duplicated rows.
    rng = np.random.default_rng(9)
    real = rng.standard_normal((12, 3, 40))
    generated = rng.standard_normal((12, 3, 40)) * 1.3 + 0.1
    draws = bootstrap_frechet_distances(real, generated, resamples=5, seed=3)
    index_rng = np.random.default_rng(3)
    for draw in draws:
        index = index_rng.integers(0, 12, 12)
        expected = pytorch_fid_distance(real[index].reshape(-1, 40), generated[index].reshape(-1, 40))
        assert draw == pytest.approx(expected, rel=1e-6)
    assert len(set(np.round(draws, 9))) == 5  # resamples differ


@pytest.mark.parametrize("a, b, message", [
    (np.zeros((1, 4)), np.zeros((5, 4)), "at least 2"),
    (np.zeros((5, 4)), np.zeros((5, 3)), "dimensions differ"),
    (np.zeros((5,)), np.zeros((5, 4)), r"\(N, D\)"),
    (np.full((5, 4), np.nan), np.zeros((5, 4)), "NaN"),
])
def test_bad_input_is_a_clear_error(a, b, message):
    with pytest.raises(ValueError, match=message):
        frechet_distance(a, b)
