"""Per-filter fields of a bias-free linear probe and their per-label means (docs/method.md,
Phase 3)."""

from __future__ import annotations

import torch
from torch import Tensor

from filterscope.precision import autocast_off


def filter_fields(features: Tensor, weight: Tensor) -> Tensor:
    """Fields ``z[b, f, i] = sum_{h,w} weight[i, f, h, w] * features[b, f, h, w]``.

    ``features`` is ``(B, C, H, W)`` (the cut-point activations, any memory format), ``weight`` the
    probe weight reshaped to ``(K, C, H, W)``. Returns ``(B, C, K)``, computed in float32 (float64
    if either input is float64) under any autocast; summing over ``C`` gives the bias-free
    probe's logits.
    """
    if features.dim() != 4 or weight.dim() != 4 or features.shape[1:] != weight.shape[1:]:
        raise ValueError(
            f"expected features (B, C, H, W) and weight (K, C, H, W) with matching (C, H, W); "
            f"got {tuple(features.shape)} and {tuple(weight.shape)}"
        )
    dtype = torch.promote_types(torch.promote_types(features.dtype, weight.dtype), torch.float32)
    # NCHW first: the einsum's batched matmul over filters then reads each (B, H*W) slice with
    # unit stride. From channels-last features it takes a slower path (1.4x at 1 CPU thread, up to
    # 20x at 2 threads on a busy 2-core machine; BENCHMARKS.md).
    features = features.to(dtype=dtype, memory_format=torch.contiguous_format)
    weight = weight.to(dtype=dtype, memory_format=torch.contiguous_format)
    with autocast_off(features.device):
        return torch.einsum("bfhw,ifhw->bfi", features, weight)


class FieldAccumulator:
    """Accumulates fields over batches into per-filter field matrices and single-filter accuracy.

    Per-label sums are kept in float64, so long runs of float32 batches lose no precision.
    Updates never wait for an accelerator: labels outside ``[0, K)`` on the CPU fail at once,
    elsewhere they are counted on the device and reading any result then fails.
    """

    def __init__(
        self, num_filters: int, num_classes: int, device: torch.device | str | None = None
    ) -> None:
        if num_filters < 1 or num_classes < 1:
            raise ValueError(
                f"need num_filters, num_classes >= 1; got {num_filters}, {num_classes}"
            )
        self.num_filters = num_filters
        self.num_classes = num_classes
        self._sums = torch.zeros(
            num_classes, num_filters, num_classes, dtype=torch.float64, device=device
        )
        self._counts = torch.zeros(num_classes, dtype=torch.int64, device=device)
        self._correct = torch.zeros(num_filters, dtype=torch.int64, device=device)
        self._bad_labels = torch.zeros((), dtype=torch.int64, device=device)

    def _check_labels(self) -> None:
        if bad := int(self._bad_labels):
            raise ValueError(f"labels must lie in [0, {self.num_classes}); got {bad} outside")

    @property
    def count(self) -> int:
        """Number of inputs seen so far."""
        self._check_labels()
        return int(self._counts.sum())

    def update(self, z: Tensor, labels: Tensor) -> None:
        """Add a batch of fields ``z`` ``(B, C, K)`` for inputs with integer ``labels`` ``(B,)``."""
        expected = (self.num_filters, self.num_classes)
        if z.dim() != 3 or tuple(z.shape[1:]) != expected or labels.shape != z.shape[:1]:
            raise ValueError(
                f"expected z (B, {expected[0]}, {expected[1]}) and labels (B,); "
                f"got {tuple(z.shape)} and {tuple(labels.shape)}"
            )
        device = self._sums.device
        z = z.detach().to(device=device, dtype=torch.float64)
        labels = labels.detach().to(device=device, dtype=torch.int64)
        bad = (labels < 0) | (labels >= self.num_classes)
        if device.type == "cpu":
            if bad.any():
                raise ValueError(
                    f"labels must lie in [0, {self.num_classes}); got {labels[bad].tolist()}"
                )
        else:  # no host sync per batch: count them on the device, keep the indices in range
            self._bad_labels += bad.sum()
            labels = labels.masked_fill(bad, 0)
        self._sums.index_add_(0, labels, z)
        self._counts.index_add_(0, labels, torch.ones_like(labels))
        self._correct += (z.argmax(dim=2) == labels[:, None]).sum(dim=0)

    def field_matrices(self) -> Tensor:
        """Field matrices ``M`` ``(C, K, K)``: ``M[f, a, i]`` = mean field of filter ``f`` on
        output ``i`` over the inputs of label ``a`` (float64)."""
        self._check_labels()
        missing = (self._counts == 0).nonzero().flatten().tolist()
        if missing:
            raise ValueError(
                f"no inputs seen for label(s) {missing}: their field-matrix rows are undefined"
            )
        return (self._sums / self._counts[:, None, None]).permute(1, 0, 2).contiguous()

    def single_filter_accuracy(self) -> Tensor:
        """Per filter ``(C,)``: fraction of inputs whose ``argmax_i z[f, i]`` equals the label."""
        if self.count == 0:
            raise ValueError("no inputs seen: single-filter accuracy is undefined")
        return self._correct.to(torch.float64) / self.count
