"""The unlabelled challenge images, as a torch Dataset."""
import os

import numpy as np
import torch.utils.data as data
from PIL import Image


class ChallengeData(data.Dataset):
    """
    Challenge images without labels, read from root/test_images.npy.

    Arguments:
        root (str): folder holding test_images.npy, a uint8 array of shape
            (N, 32, 32, 3)
        transform (callable): applied to each PIL image
        download (bool): kept for the starter's interface; the course hands
            the file out, so there is nothing to download

    Each item is what transform makes of one 32x32 RGB PIL image, in file order.
    """

    def __init__(self, root, transform=None, download=False):
        path = os.path.join(os.path.expanduser(root), 'test_images.npy')
        if not os.path.isfile(path):
            raise RuntimeError('challenge images not found: %s' % path)
        self.data = np.load(path, allow_pickle=False)
        if self.data.dtype != np.uint8 or self.data.ndim != 4 or self.data.shape[1:] != (32, 32, 3):
            raise RuntimeError('%s must hold uint8 images of shape (N, 32, 32, 3), not %s %s'
                               % (path, self.data.dtype, self.data.shape))
        self.transform = transform

    def __getitem__(self, index):
        image = Image.fromarray(self.data[index])
        if self.transform is not None:
            image = self.transform(image)
        return image

    def __len__(self):
        return len(self.data)
