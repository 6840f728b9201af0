"""Blockwise segmentation on Dask against the in-memory path."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")

from specseg import distributed, segment  # noqa: E402
from specseg.datasets import balls, shapes  # noqa: E402
from specseg.metrics import adjusted_rand_score  # noqa: E402


def _ari(a, b):
    return adjusted_rand_score(np.ravel(a), np.ravel(b))


@pytest.fixture(scope="module")
def volume():
    return balls(64, n_balls=3, noise=0.1, random_state=0)


def _one_ball(size=64, radius=20, noise=0.1, seed=0):
    """A ball centred on the corner shared by the 8 blocks of side size / 2."""
    grid = np.indices((size,) * 3) - (size / 2 - 0.5)
    inside = (grid**2).sum(axis=0) < radius**2
    rng = np.random.default_rng(seed)
    return inside + noise * rng.standard_normal(inside.shape), inside


def test_blockwise_agrees_with_in_memory_and_truth(volume):
    image, truth = volume
    labels = distributed.segment(da.from_array(image, chunks=32), 4, random_state=0)
    assert isinstance(labels, da.Array) and labels.chunksize == (32, 32, 32)
    labels = labels.compute()
    assert labels.dtype == np.int32 and sorted(np.unique(labels)) == [0, 1, 2, 3]
    in_memory = segment(image, 4, random_state=0)
    # the same supervoxel function, the same region graph, the same boundary pass
    assert _ari(in_memory, labels) >= 0.98
    assert _ari(truth, labels) >= 0.98


def test_a_ball_across_eight_blocks_is_one_segment():
    from scipy import ndimage

    image, inside = _one_ball()
    depth_in = ndimage.distance_transform_edt(inside)
    depth_out = ndimage.distance_transform_edt(~inside)
    # supervoxel labels, before the boundary pass: the ball's interior is one
    # segment, the background another, across all eight blocks
    coarse = distributed.segment(image, 2, chunks=32, refine=False, random_state=0).compute()
    assert np.unique(coarse[depth_in > 4]).size == 1
    assert np.unique(coarse[depth_out > 8]).size == 1
    assert coarse[depth_in > 4][0] != coarse[depth_out > 8][0]
    # with the boundary pass: no seam where the blocks meet, and the ball is found
    labels = distributed.segment(image, 2, chunks=32, random_state=0).compute()
    for axis in range(3):
        below, above = np.take(labels, 31, axis=axis), np.take(labels, 32, axis=axis)
        deep = np.take(depth_in, 31, axis=axis) > 2
        assert (below[deep] == above[deep]).all()
    assert _ari(inside, labels) >= 0.98


@pytest.mark.parametrize("size, n_balls, noise, seed, chunks, least", [
    # SLIC rescales each block to its own range: a block of background alone
    # has a narrow one, and its supervoxels followed the noise (ARI 0.20);
    # every block now takes the range of the whole volume
    (80, 4, 0.3, 1, 40, 0.9),
    # balls on a shaded background: the spectral cut split the background
    # along its ramp (ARI 0.20); as in memory, the affine region models
    # (robust_partition) now replace it, their sums taken block by block
    (128, 6, 0.2, 3, 64, 0.75),
])
def test_noisy_shaded_volumes_in_blocks(size, n_balls, noise, seed, chunks, least):
    image, truth = balls(size, n_balls=n_balls, noise=noise, random_state=seed)
    k = np.unique(truth).size
    labels = distributed.segment(da.from_array(image, chunks=chunks), k,
                                 random_state=0).compute()
    assert _ari(truth, labels) >= least


def test_one_block_of_a_noisy_volume_gives_the_in_memory_labels():
    # the same compactness as in memory (SLIC there rescales the features
    # before it smooths them) and the same noise-gated boundary pass: ARI
    # 0.19 against in memory before, on this volume
    image, truth = balls(64, n_balls=3, noise=0.3, random_state=1)
    k = np.unique(truth).size
    in_memory = segment(image, k, random_state=0)
    labels = distributed.segment(da.from_array(image, chunks=64), k, random_state=0).compute()
    assert _ari(in_memory, labels) >= 0.99
    assert _ari(truth, labels) >= 0.95


def test_block_supervoxels_take_the_range_of_the_whole_volume():
    from specseg._blockwise import _block_input_range, _block_supervoxels

    rng = np.random.default_rng(0)
    block = rng.normal(0.5, 0.05, (24, 24, 24)).astype(np.float32)
    low, high = _block_input_range(block, block, voxels_per_region=200).ravel()
    assert (low, high) == (block.min(), block.max())
    options = dict(voxels_per_region=200, method="slic", compactness=None)
    alone = _block_supervoxels(block, **options)
    # the block's own range: the same supervoxels as without one
    same = _block_supervoxels(block, feature_range=(low, high), **options)
    np.testing.assert_array_equal(same, alone)
    # a whole volume ten times wider: ten times the compactness, so more
    # compact supervoxels that follow the noise less (a smaller spread of
    # their means)
    wide = _block_supervoxels(block, feature_range=(low - 4.5 * (high - low), high + 4.5 * (
        high - low)), **options)
    spread = [np.std(np.bincount(s.ravel(), block.ravel()) / np.bincount(s.ravel()))
              for s in (alone, wide)]
    assert spread[1] < 0.5 * spread[0]


def test_labels_are_numbered_canonically_and_reproduce(volume):
    image, _ = volume
    first = distributed.segment(image, 4, chunks=32, random_state=3).compute()
    again = distributed.segment(da.from_array(image, chunks=16), 4, chunks=32,
                                random_state=3).compute()
    np.testing.assert_array_equal(first, again)  # same seed and blocks: same labels
    assert first.flat[0] == 0  # the segment of the first voxel is 0


def test_supervoxels_on_disk_give_the_same_labels(volume, tmp_path):
    image, _ = volume
    expected = distributed.segment(image, 4, chunks=32, random_state=0).compute()
    store = tmp_path / "supervoxels.zarr"
    got = distributed.segment(image, 4, chunks=32, random_state=0, supervoxel_store=store)
    np.testing.assert_array_equal(got.compute(), expected)
    assert zarr.open_array(store, mode="r").shape == image.shape
    with pytest.raises(FileExistsError, match="already exists"):
        distributed.segment(image, 4, chunks=32, supervoxel_store=store)


def test_two_dimensional_image_with_a_mask():
    image, truth = shapes(96, n_shapes=3, noise=0.05, random_state=1)
    mask = np.zeros(image.shape, bool)
    mask[:, :80] = True
    labels = distributed.segment(image, 4, chunks=48, mask=mask, random_state=0).compute()
    assert (labels[~mask] == -1).all() and (labels[mask] >= 0).all()
    assert _ari(truth[mask], labels[mask]) >= 0.9


def test_reads_a_zarr_array_a_store_path_and_an_ome_zarr_group(tmp_path, volume):
    image = volume[0][:32, :48, :48].astype(np.float32)
    plain = zarr.open_array(tmp_path / "plain.zarr", mode="w", shape=image.shape,
                            chunks=(16, 16, 16), dtype="float32")
    plain[...] = image
    group = zarr.open_group(tmp_path / "ome.zarr", mode="w")
    group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}]}]
    level = group.create_array("0", shape=image.shape, chunks=(16, 16, 16), dtype="float32")
    level[...] = image
    expected = distributed.segment(image, 3, chunks=16, random_state=0).compute()
    for source in (plain, tmp_path / "plain.zarr", str(tmp_path / "ome.zarr")):
        got = distributed.segment(source, 3, random_state=0)
        assert got.chunksize == (16, 16, 16)  # the store's chunks are kept
        np.testing.assert_array_equal(got.compute(), expected)


def test_two_worker_local_cluster_gives_the_same_labels(volume, tmp_path):
    distributed_ = pytest.importorskip("distributed")
    from specseg import _allocator

    image, _ = volume
    expected = distributed.segment(image, 4, chunks=32, random_state=0).compute()
    with distributed_.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   memory_limit="1GiB", dashboard_address=None) as cluster, \
            distributed_.Client(cluster) as client:
        labels = distributed.segment(image, 4, chunks=32, random_state=0)
        labels.to_zarr(str(tmp_path / "labels.zarr"))
        # the allocator tuning stays off inside the workers by default
        assert client.submit(_allocator._keep_bytes, pure=False).result() is None
    got = zarr.open_array(tmp_path / "labels.zarr", mode="r")[...]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"array": "/no/such/store.zarr"}, FileNotFoundError, "no zarr store"),
        ({"array": [[1.0, 2.0], [3.0, 4.0]]}, TypeError, "expected a dask array"),
        ({"chunks": ((30, 30), (64,), (64,))}, ValueError, "do not tile"),
        ({"chunks": (32, 32)}, ValueError, "one entry per axis"),
        ({"chunks": 4}, ValueError, "too thin"),
        ({"mask": np.ones((64, 64, 63), bool)}, ValueError, "mask has shape"),
        ({"mask": np.zeros((64, 64, 64), bool)}, ValueError, "mask is empty"),
        ({"array": np.zeros(64)}, ValueError, "2-D or 3-D"),
        ({"n_segments": 0}, ValueError, "n_segments must be >= 1"),
        ({"superpixel_method": "quick"}, ValueError, "valid superpixel method"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(volume, kwargs, error, match):
    arguments = {"array": volume[0], "n_segments": 4, **kwargs}
    with pytest.raises(error, match=match):
        distributed.segment(arguments.pop("array"), arguments.pop("n_segments"), **arguments)


def test_estimate_memory_scales_with_the_blocks_not_the_volume():
    small = distributed.estimate_memory((512, 512, 512), chunks=64, n_workers=2)
    large = distributed.estimate_memory((512, 512, 512), chunks=128, n_workers=2)
    assert small["task"] < large["task"]
    assert small["n_regions"] == large["n_regions"] == 32768
    assert small["worker"] < 2 * 2**30 and small["supervoxels"] == 4 * 512**3
    with pytest.raises(ValueError, match="2-D or 3-D"):
        distributed.estimate_memory((10,))


def test_a_worker_killed_mid_job_changes_nothing(volume, tmp_path):
    distributed_ = pytest.importorskip("distributed")
    import os
    import signal

    from specseg._cli_zarr import write_labels_store

    image, _ = volume
    expected = distributed.segment(image, 4, chunks=32, random_state=0).compute() + 1
    out = tmp_path / "labels.zarr"
    with distributed_.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   memory_limit="1GiB", dashboard_address=None) as cluster, \
            distributed_.Client(cluster) as client:
        labels = distributed.segment(image, 4, chunks=32, random_state=0)
        # the supervoxels are held on both workers now: kill one (its nanny starts
        # a new one), so its blocks must be recomputed while the labels are written
        victim, pid = sorted(client.run(os.getpid).items())[0]
        os.kill(pid, signal.SIGKILL)
        write_labels_store(labels, out, n_segments=4, client=client)
        assert victim not in client.scheduler_info()["workers"]
    np.testing.assert_array_equal(zarr.open_array(out, mode="r")[...], expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.zarr"]  # no partial store


def test_nan_outside_the_mask_is_left_out():
    image, _ = balls(32, n_balls=2, noise=0.05, random_state=0)
    image = image.astype(np.float32)
    mask = np.ones(image.shape, bool)
    mask[:, :, :5] = False
    with_nan = image.copy()
    with_nan[~mask] = np.nan
    with_nan[0, 0, 0] = np.inf
    labels = distributed.segment(da.from_array(with_nan, chunks=16), 3, mask=mask,
                                 random_state=0).compute()
    assert (labels[~mask] == -1).all() and labels[mask].min() == 0
    reference = image.copy()  # the median of the finite voxels sampled (here all of them)
    reference[~mask] = np.median(image[mask])
    np.testing.assert_array_equal(labels, distributed.segment(
        da.from_array(reference, chunks=16), 3, mask=mask, random_state=0).compute())


def test_nan_without_or_inside_the_mask_refused():
    image = np.ones((32, 32), np.float32)
    image[:, :4] = np.nan
    with pytest.raises(ValueError, match=r"128 of 1024 voxels that are NaN or inf.*"
                       r"mask=da\.isfinite\(image\)"):
        distributed.segment(da.from_array(image, chunks=16), 2)
    mask = np.ones(image.shape, bool)
    mask[:, :3] = False
    with pytest.raises(ValueError, match="32 voxels inside the mask that are NaN or inf"):
        distributed.segment(da.from_array(image, chunks=16), 2, mask=mask)


def test_a_constant_volume_in_blocks_is_one_segment_with_auto():
    labels = distributed.segment(da.from_array(np.full((48, 48, 48), 2.0), chunks=24), "auto",
                                 random_state=0).compute()
    assert np.unique(labels).tolist() == [0]


@pytest.mark.parametrize("axis", [0, 2])
def test_a_clean_straight_edge_in_blocks_gives_two_segments(axis):
    # scikit-image's joining of SLIC's small pieces made chains of supervoxels
    # straddling the edge, which the cut took as segments (wrong k with "auto"
    # on 27 of 27 such cubes, ARI 0.0 with k=2 on some); clean volumes now join
    # them by value, as in memory
    n = 48
    truth = (np.indices((n, n, n))[axis] >= n // 3).astype(int)
    image = truth + np.random.default_rng(1).normal(0, 0.05, truth.shape)
    volume = da.from_array(image, chunks=n // 2)
    _, info = distributed.segment(volume, "auto", random_state=0, return_info=True)
    assert info["n_segments"] == 2
    labels = distributed.segment(volume, 2, random_state=0).compute()
    assert _ari(truth, labels) > 0.99


@pytest.mark.parametrize("shape", [(2, 2, 2), (3, 3, 3), (1, 50, 50), (1, 1, 1)])
def test_volumes_thinner_than_the_halo_are_segmented(shape):
    # dask refused them ("The overlapping depth 4 is larger than your array 2"):
    # an axis of one block has no neighbour to borrow a halo from
    image = np.random.default_rng(0).random(shape)
    k = 1 if image.size == 1 else 2
    labels = distributed.segment(da.from_array(image), k, n_regions=image.size,
                                 random_state=0).compute()
    assert labels.shape == shape and labels.min() == 0 and labels.max() == k - 1


def test_an_axis_of_one_thin_block_beside_axes_of_several():
    image, _ = balls(48, n_balls=2, noise=0.05, random_state=0)
    labels = distributed.segment(da.from_array(image[:3], chunks=(3, 24, 24)), 2,
                                 random_state=0).compute()
    assert labels.shape == (3, 48, 48) and sorted(np.unique(labels)) == [0, 1]

def test_more_segments_than_supervoxels_names_n_regions():
    # it said "more than the 1 pixels (inside the mask)" of a 2 x 2 x 2 volume
    image = np.random.default_rng(0).random((2, 2, 2))
    with pytest.raises(ValueError, match="1 supervoxels.*n_regions="):
        distributed.segment(image, 2)

@pytest.mark.parametrize("n_voxels", [1, 2, 5])
def test_a_mask_of_a_few_voxels_gives_them_labels(n_voxels):
    # a single-voxel mask crashed ("need at least one array to concatenate"):
    # SLIC left its voxels out of every supervoxel
    image, _ = balls(48, n_balls=2, noise=0.05, random_state=0)
    mask = np.zeros(image.shape, bool)
    mask[5, 5, 5:5 + n_voxels] = True
    labels = distributed.segment(da.from_array(image, chunks=24), 1, mask=mask).compute()
    assert (labels[mask] == 0).all() and (labels[~mask] == -1).all()



def test_thin_trailing_blocks_of_the_arrays_own_chunks_are_folded():
    # chunks=20 on 48 voxels leaves blocks of 8: chunks=20 folded them, but the
    # same chunks read from the dask array were refused ("Pass larger chunks")
    image, _ = balls(48, n_balls=2, noise=0.05, random_state=0)
    labels, info = distributed.segment(da.from_array(image, chunks=20), 3, random_state=0,
                                       return_info=True)
    assert info["chunks"] == ((20, 28),) * 3
    expected = distributed.segment(image, 3, chunks=20, random_state=0).compute()
    np.testing.assert_array_equal(labels.compute(), expected)




def test_spacing_is_passed_to_the_supervoxels_as_in_memory():
    # distributed.segment had no spacing= (TypeError), so anisotropic volumes
    # were over-segmented as if their voxels were cubes
    image, _ = balls(48, n_balls=2, noise=0.05, random_state=0)
    spacing = (5.0, 1.0, 1.0)
    labels, info = distributed.segment(da.from_array(image), 3, spacing=spacing,
                                       random_state=0, return_info=True)
    _, plain = distributed.segment(da.from_array(image), 3, random_state=0, return_info=True)
    assert info["n_regions"] != plain["n_regions"]
    # one block: the in-memory region mode's labels with that spacing
    np.testing.assert_array_equal(labels.compute(),
                                  segment(image, 3, spacing=spacing, random_state=0))
    # only the ratios matter, as in memory
    same = distributed.segment(da.from_array(image, chunks=24), 3, spacing=(1, 0.2, 0.2),
                               random_state=0).compute()
    np.testing.assert_array_equal(same, distributed.segment(
        da.from_array(image, chunks=24), 3, spacing=spacing, random_state=0).compute())
    with pytest.raises(ValueError, match="spacing has 2 values"):
        distributed.segment(image, 3, spacing=(5, 1))


def test_spacing_with_watershed_supervoxels_is_refused():
    # the watershed does not use it: it was ignored without a word
    image, _ = balls(32, n_balls=2, noise=0.05, random_state=0)
    with pytest.raises(ValueError, match="superpixel_method='watershed' does not use it"):
        distributed.segment(image, 3, spacing=(5, 1, 1), superpixel_method="watershed")
