"""Device batches: scaling, batched shift/flip augmentation, seeding, epochs, splits."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from filterscope.data.batches import (
    DeviceBatches,
    cut_out,
    scale,
    shift_flip,
    split_train_val,
)
from filterscope.errors import ConfigError


def _data(n: int = 10, size: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    return images, torch.arange(n)


def test_scale_endpoints() -> None:
    x = scale(torch.tensor([0, 51, 255], dtype=torch.uint8))
    assert x.dtype == torch.float32
    assert x[0] == -1.0 and x[2] == 1.0
    assert x[1] == pytest.approx(51 / 127.5 - 1)


def test_shift_by_known_offsets() -> None:
    x = torch.arange(1.0, 21.0).reshape(1, 1, 4, 5)
    down_right = shift_flip(x, torch.tensor([[1, 2]]), None, max_shift=2)
    expected = torch.tensor(
        [
            [0, 0, 0, 0, 0],
            [0, 0, 1, 2, 3],
            [0, 0, 6, 7, 8],
            [0, 0, 11, 12, 13],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(down_right[0, 0], expected)
    up_left = shift_flip(x, torch.tensor([[-1, -1]]), None, max_shift=2)
    expected = torch.tensor(
        [
            [7, 8, 9, 10, 0],
            [12, 13, 14, 15, 0],
            [17, 18, 19, 20, 0],
            [0, 0, 0, 0, 0],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(up_left[0, 0], expected)


def test_flip_then_shift() -> None:
    x = torch.arange(1.0, 21.0).reshape(1, 1, 4, 5)
    flipped = shift_flip(x, None, torch.tensor([True]), max_shift=0)
    assert torch.equal(flipped, x.flip(-1))
    both = shift_flip(x, torch.tensor([[0, 1]]), torch.tensor([True]), max_shift=1)
    assert both[0, 0, 0].tolist() == [0, 5, 4, 3, 2]


def test_shift_is_per_sample_and_per_channel_consistent() -> None:
    x = torch.rand(3, 2, 5, 5)
    shifts = torch.tensor([[0, 0], [2, -1], [-2, 2]])
    flips = torch.tensor([False, True, False])
    out = shift_flip(x, shifts, flips, max_shift=2)
    for b in range(3):
        assert torch.equal(
            out[b : b + 1], shift_flip(x[b : b + 1], shifts[b : b + 1], flips[b : b + 1], 2)
        )
    assert torch.equal(out[0], x[0])


def _reference(x: torch.Tensor, dy: int, dx: int, flip: bool) -> torch.Tensor:
    """Per-pixel loop: out[i, j] = flipped x[i - dy, j - dx], 0 outside."""
    source = x.flip(-1) if flip else x
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    for i, j in itertools.product(range(h), range(w)):
        if 0 <= i - dy < h and 0 <= j - dx < w:
            out[..., i, j] = source[..., i - dy, j - dx]
    return out


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    max_shift=st.integers(0, 4),
    data=st.data(),
)
def test_shift_flip_matches_a_pixel_loop(
    h: int, w: int, max_shift: int, data: st.DataObject
) -> None:
    shift = st.integers(-max_shift, max_shift)
    dy, dx, flip = data.draw(shift), data.draw(shift), data.draw(st.booleans())
    x = torch.rand(1, 2, h, w)
    out = shift_flip(x, torch.tensor([[dy, dx]]), torch.tensor([flip]), max_shift)
    assert torch.equal(out, _reference(x, dy, dx, flip))


def _recover(x: torch.Tensor, source: torch.Tensor, max_shift: int) -> list[tuple[int, int, bool]]:
    """Per image, the (dy, dx, flip) that turn ``source`` into batch ``x``; fails if none does."""
    offsets = range(-max_shift, max_shift + 1)
    found: list[tuple[int, int, bool] | None] = [None] * len(x)
    for dy, dx, flip in itertools.product(offsets, offsets, (False, True)):
        same = (x == _reference(source, dy, dx, flip)).flatten(1).all(1)
        for i in same.nonzero().flatten().tolist():
            found[i] = found[i] or (dy, dx, flip)
    assert None not in found, "a batch image is no shift/flip of its source"
    return found  # type: ignore[return-value]


@pytest.mark.parametrize("hflip", [False, True])
def test_augmented_images_are_shifts_and_flips_of_their_source(hflip: bool) -> None:
    images, labels = _data(n=200, size=8)
    batches = DeviceBatches(
        images, labels, 64, shuffle=True, augment=True, hflip=hflip, max_shift=2, seed=3
    )
    found = [params for x, y in batches for params in _recover(x, scale(images[y]), 2)]
    dys, dxs, flips = zip(*found, strict=True)
    assert set(dys) == set(dxs) == {-2, -1, 0, 1, 2}
    if hflip:
        assert 0.3 < sum(flips) / len(flips) < 0.7
    else:
        assert not any(flips)


def test_zero_fill_in_scaled_space() -> None:
    images = torch.full((50, 1, 6, 6), 255, dtype=torch.uint8)
    batches = DeviceBatches(
        images, torch.zeros(50, dtype=torch.int64), 50, shuffle=False, augment=True, hflip=False
    )
    ((x, _),) = list(batches)
    assert set(x.unique().tolist()) == {0.0, 1.0}


def test_no_augmentation_is_plain_scaling() -> None:
    images, labels = _data()
    batches = DeviceBatches(images, labels, 4, shuffle=True, augment=False, hflip=True)
    for x, y in batches:
        assert x.dtype == torch.float32
        assert torch.equal(x, scale(images[y]))


def test_cut_out_zeroes_the_square_around_each_centre() -> None:
    x = torch.ones(2, 3, 5, 6)
    # Image 0: a 2x2 square centred at (2, 3) covers rows 1-2, columns 2-3; image 1: centred at
    # the corner (0, 0), only its row 0, column 0 is inside the image.
    out = cut_out(x, torch.tensor([[2, 3], [0, 0]]), 2)
    expected = torch.ones(2, 3, 5, 6)
    expected[0, :, 1:3, 2:4] = 0
    expected[1, :, 0, 0] = 0
    assert torch.equal(out, expected)


@settings(max_examples=50, deadline=None)
@given(h=st.integers(4, 9), w=st.integers(4, 9), size=st.integers(0, 9), data=st.data())
def test_cut_out_zeroes_the_clipped_square_only(
    h: int, w: int, size: int, data: st.DataObject
) -> None:
    r, c = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    out = cut_out(torch.ones(1, 2, h, w), torch.tensor([[r, c]]), size)
    rows = range(max(0, r - size // 2), min(h, r - size // 2 + size))
    cols = range(max(0, c - size // 2), min(w, c - size // 2 + size))
    assert int((out == 0).sum()) == 2 * len(rows) * len(cols)
    for i, j in itertools.product(rows, cols):
        assert torch.all(out[0, :, i, j] == 0)


def test_cutout_leaves_the_other_draws_alone() -> None:
    images, labels = _data(n=20, size=8)
    kwargs = dict(shuffle=True, augment=True, hflip=True, max_shift=2, seed=4)
    plain = DeviceBatches(images, labels, 6, **kwargs)
    cut = DeviceBatches(images, labels, 6, cutout=4, **kwargs)
    for (xp, yp), (xc, yc) in zip(plain, cut, strict=True):
        assert torch.equal(yp, yc)
        kept = xc != 0  # outside the squares the images are those without Cutout
        assert torch.equal(xc[kept], xp[kept])
        zeroed = (xc == 0).all(1).flatten(1).sum(1)  # pixels zeroed in every channel
        assert torch.all(zeroed >= 4) and torch.all(zeroed <= 16 + 2 * 4 * 8)


def test_cutout_only_when_augmenting_and_within_the_image() -> None:
    images, labels = _data(n=6, size=8)
    off = DeviceBatches(images, labels, 6, shuffle=False, augment=False, hflip=False, cutout=4)
    assert torch.equal(next(iter(off))[0], scale(images))
    with pytest.raises(ConfigError, match="cutout"):
        DeviceBatches(images, labels, 2, shuffle=False, augment=True, hflip=False, cutout=9)


def test_every_sample_once_perlist() -> None:
    images, labels = _data(n=23)
    batches = DeviceBatches(images, labels, 5, shuffle=True, augment=True, hflip=True, max_shift=2)
    for _ in range(3):
        seen = torch.cat([y for _, y in batches])
        assert sorted(seen.tolist()) == list(range(23))


def test_same_seed_same_batches_and_epochs_differ() -> None:
    images, labels = _data(n=30)

    def make(seed: int) -> DeviceBatches:
        return DeviceBatches(
            images, labels, 8, shuffle=True, augment=True, hflip=True, max_shift=2, seed=seed
        )

    a, b = make(0), make(0)
    epochs_a = [list(a) for _ in range(2)]
    epochs_b = [list(b) for _ in range(2)]
    for (xa, ya), (xb, yb) in zip(
        epochs_a[0] + epochs_a[1], epochs_b[0] + epochs_b[1], strict=True
    ):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(epochs_a[0][0][1], epochs_a[1][0][1])
    assert not torch.equal(list(make(1))[0][1], epochs_a[0][0][1])


def test_setting_epoch_resumes_the_sequence() -> None:
    images, labels = _data(n=30)
    kwargs = dict(shuffle=True, augment=True, hflip=True, max_shift=2, seed=5)
    a = DeviceBatches(images, labels, 8, **kwargs)
    list(a)
    second = list(a)
    b = DeviceBatches(images, labels, 8, **kwargs)
    b.epoch = 1
    for (xa, ya), (xb, yb) in zip(second, list(b), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_unshuffled_order() -> None:
    images, labels = _data(n=7)
    batches = DeviceBatches(images, labels, 3, shuffle=False, augment=False, hflip=False)
    assert [y.tolist() for _, y in batches] == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "sizes"),
    [
        (10, 4, False, [4, 4, 2]),
        (10, 4, True, [4, 4]),
        (8, 4, True, [4, 4]),
        (3, 4, True, []),
        (3, 4, False, [3]),
    ],
)
def test_len_and_drop_last(n: int, batch_size: int, drop_last: bool, sizes: list[int]) -> None:
    images, labels = _data(n=n)
    batches = DeviceBatches(
        images, labels, batch_size, shuffle=True, augment=False, hflip=False, drop_last=drop_last
    )
    assert len(batches) == len(sizes)
    assert [len(y) for _, y in batches] == sizes


def _shards(world: int, **kwargs: object) -> list[list[list[int]]]:
    """Each rank's batches of labels (``kwargs`` are DeviceBatches options)."""
    images, labels = _data(n=kwargs.pop("n"))  # type: ignore[arg-type]
    return [
        [y.tolist() for _, y in DeviceBatches(images, labels, shard=(rank, world), **kwargs)]
        for rank in range(world)
    ]


def test_shards_split_every_batch_by_stride() -> None:
    ranks = _shards(2, n=10, batch_size=4, shuffle=False, augment=False, hflip=False)
    assert ranks == [[[0, 2], [4, 6], [8]], [[1, 3], [5, 7], [9]]]


def test_a_training_batch_too_small_for_every_rank_is_dropped() -> None:
    # 10 = 4 + 4 + 2: the last batch cannot reach 3 ranks, so no rank steps on it (DDP would
    # wait forever for the rank without a share); evaluation keeps it for the ranks it reaches.
    train = _shards(3, n=10, batch_size=4, shuffle=True, augment=False, hflip=False)
    assert [len(batches) for batches in train] == [2, 2, 2]
    evaluation = _shards(3, n=10, batch_size=4, shuffle=False, augment=False, hflip=False)
    assert evaluation == [[[0, 3], [4, 7], [8]], [[1], [5], [9]], [[2], [6]]]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    batch_size=st.integers(1, 12),
    world=st.integers(1, 4),
    augment=st.booleans(),
)
def test_shards_together_are_the_single_process_epoch(
    n: int, batch_size: int, world: int, augment: bool
) -> None:
    assume(batch_size >= world)
    images, labels = _data(n=n)
    options = {"shuffle": True, "augment": augment, "hflip": augment, "max_shift": 2, "seed": 3}
    whole = list(DeviceBatches(images, labels, batch_size, **options))
    ranks = [
        list(DeviceBatches(images, labels, batch_size, shard=(rank, world), **options))
        for rank in range(world)
    ]
    assert len({len(batches) for batches in ranks}) == 1  # every rank takes the same steps
    for i, (x, y) in enumerate(whole[: len(ranks[0])]):
        shares = [batches[i] for batches in ranks]
        for rank, (xs, ys) in enumerate(shares):  # rank r holds rows r, r + world, ...
            assert torch.equal(ys, y[rank::world])
            assert torch.equal(xs, x[rank::world])


def test_channels_last() -> None:
    images, labels = _data()
    batches = DeviceBatches(
        images, labels, 4, shuffle=False, augment=True, hflip=True, channels_last=True
    )
    x, _ = next(iter(batches))
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_bad_arguments() -> None:
    images, labels = _data()
    with pytest.raises(ConfigError, match="batch_size"):
        DeviceBatches(images, labels, 0, shuffle=False, augment=False, hflip=False)
    with pytest.raises(ConfigError, match="max_shift"):
        DeviceBatches(images, labels, 2, shuffle=False, augment=True, hflip=False, max_shift=6)
    with pytest.raises(ValueError, match="uint8"):
        DeviceBatches(scale(images), labels, 2, shuffle=False, augment=False, hflip=False)
    with pytest.raises(ValueError, match="shard"):
        DeviceBatches(images, labels, 2, shuffle=False, augment=False, hflip=False, shard=(2, 2))
    with pytest.raises(ConfigError, match="3 processes"):
        DeviceBatches(images, labels, 2, shuffle=False, augment=False, hflip=False, shard=(0, 3))


def test_split_train_val() -> None:
    images, labels = _data(n=50)
    (tx, ty), (vx, vy) = split_train_val(images, labels, 0.2, seed=1)
    assert len(ty) == 40 and len(vy) == 10
    assert sorted(torch.cat([ty, vy]).tolist()) == list(range(50))
    assert torch.equal(tx, images[ty]) and torch.equal(vx, images[vy])
    assert ty.tolist() == sorted(ty.tolist())
    (_, ty2), (_, vy2) = split_train_val(images, labels, 0.2, seed=1)
    assert torch.equal(vy, vy2) and torch.equal(ty, ty2)
    assert not torch.equal(split_train_val(images, labels, 0.2, seed=2)[1][1], vy)


def test_split_without_validation() -> None:
    images, labels = _data(n=5)
    (tx, ty), (vx, vy) = split_train_val(images, labels, 0.0, seed=0)
    assert torch.equal(tx, images) and torch.equal(ty, labels)
    assert vx.shape == (0, 3, 6, 6) and vy.shape == (0,)
    with pytest.raises(ConfigError, match=r"data.val_fraction must be in \[0, 1\)"):
        split_train_val(images, labels, 1.0, seed=0)
