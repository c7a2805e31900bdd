"""Betti numbers of {f <= c} on a fine grid (the review's independent, non-rigorous check).

b_0: components of the mask with 8-connectivity and with 4-connectivity; b_1: components of the complement that do
not touch the grid's border (4- resp. 8-connectivity, the dual choice).  The two conventions agreeing is required
for the grid to count as 'convincing'; `clipped`: the mask touches the border."""
import numpy as np
from scipy import ndimage

S8 = np.ones((3, 3), dtype=bool)
S4 = ndimage.generate_binary_structure(2, 1)


def _holes(mask, struct):
    lab, n = ndimage.label(~mask, structure=struct)
    if n == 0:
        return 0
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return n - len(set(border.tolist()) - {0})


def betti_grid(values, c):
    mask = values <= c
    b0_8 = ndimage.label(mask, structure=S8)[1]
    b0_4 = ndimage.label(mask, structure=S4)[1]
    b1_8 = _holes(mask, S4)  # set 8-connected, complement 4-connected
    b1_4 = _holes(mask, S8)
    clipped = bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
    return (b0_8, b1_8), (b0_4, b1_4), clipped


def betti_1d(values, c):
    mask = values <= c
    starts = mask & ~np.concatenate([[False], mask[:-1]])
    return int(starts.sum()), bool(mask[0] or mask[-1])
