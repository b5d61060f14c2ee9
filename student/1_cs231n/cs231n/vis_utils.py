"""Arranging many small images into one picture."""
from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs, ubound=255.0, padding=1):
    """
    Tile a batch of images into a square grid, each rescaled to [0, ubound].

    Inputs:
    - Xs: images of shape (N, H, W, C)
    - ubound: each image is rescaled to the range [0, ubound]
    - padding: number of blank pixels between neighbouring images

    Returns:
    - grid: array of shape (G*H + (G-1)*padding, G*W + (G-1)*padding, C),
      where G = ceil(sqrt(N))
    """
    N, H, W, C = Xs.shape
    grid_size = int(ceil(sqrt(N)))
    grid_height = H * grid_size + padding * (grid_size - 1)
    grid_width = W * grid_size + padding * (grid_size - 1)
    grid = np.zeros((grid_height, grid_width, C))
    for n in range(N):
        row, col = divmod(n, grid_size)
        top, left = row * (H + padding), col * (W + padding)
        img = Xs[n]
        low, high = np.min(img), np.max(img)
        scale = ubound / (high - low) if high > low else 0.0
        grid[top:top + H, left:left + W] = scale * (img - low)
    return grid
