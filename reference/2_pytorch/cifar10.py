"""CIFAR-10 as a torch Dataset with the homework's train/val/test splits."""
import os
import pickle
import tarfile

import numpy as np
import torch.utils.data as data
from PIL import Image
from torchvision.datasets.utils import check_integrity, download_and_extract_archive, extract_archive

URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
FILENAME = 'cifar-10-python.tar.gz'
MD5 = 'c58f30108f718f92721af3b95e74349a'
BASE_FOLDER = 'cifar-10-batches-py'
TRAIN_FILES = ['data_batch_%d' % i for i in range(1, 6)]
TEST_FILE = 'test_batch'
# A copy of the archive on disk, used instead of the download when set.
ARCHIVE_ENV = 'HW1_CIFAR10_ARCHIVE'


class CIFAR10(data.Dataset):
    """
    CIFAR-10 images and labels.

    Splits: 'train' is the first 50000 - val_samples training images, 'val'
    the last val_samples of them, and 'test' the 10000 labelled test images.

    Arguments:
        root (str): folder that holds (or will hold) cifar-10-batches-py
        split (str): 'train', 'val' or 'test'
        transform (callable): applied to each PIL image
        target_transform (callable): applied to each integer label
        download (bool): fetch and extract the archive if the data is absent;
            the archive named by $HW1_CIFAR10_ARCHIVE is used when set,
            otherwise the official one is downloaded and its md5 checked
        val_samples (int): number of training images held out for validation

    Each item is (image, label): image is what transform makes of a 32x32
    RGB PIL image, label an int in [0, 10).
    """

    def __init__(self, root, split='train', transform=None, target_transform=None,
                 download=False, val_samples=1000):
        if split not in ('train', 'val', 'test'):
            raise ValueError("split must be 'train', 'val' or 'test', not %r" % split)
        self.root = os.path.expanduser(root)
        self.split = split
        self.transform = transform
        self.target_transform = target_transform

        if download:
            self.download()
        if not self._check_present():
            raise RuntimeError(
                'CIFAR-10 not found under %s: use download=True, or link Part 1\'s copy there '
                '(SETUP.md, step 3)' % os.path.join(self.root, BASE_FOLDER))

        if split == 'test':
            self.data, self.labels = self._load([TEST_FILE])
        else:
            images, labels = self._load(TRAIN_FILES)
            n_train = len(labels) - val_samples
            if split == 'train':
                self.data, self.labels = images[:n_train], labels[:n_train]
            else:
                self.data, self.labels = images[n_train:], labels[n_train:]

    def _load(self, files):
        """Read batch files into images (n, 32, 32, 3) uint8 and labels (n,) int64."""
        images, labels = [], []
        for name in files:
            with open(os.path.join(self.root, BASE_FOLDER, name), 'rb') as f:
                batch = pickle.load(f, encoding='latin1')
            images.append(batch['data'].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch['labels'], dtype=np.int64))
        return np.concatenate(images), np.concatenate(labels)

    def __getitem__(self, index):
        image = Image.fromarray(self.data[index])
        label = int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __len__(self):
        return len(self.data)

    def _check_present(self):
        folder = os.path.join(self.root, BASE_FOLDER)
        return all(os.path.isfile(os.path.join(folder, f)) for f in TRAIN_FILES + [TEST_FILE])

    def download(self):
        """
        Extract a local archive ($HW1_CIFAR10_ARCHIVE) or download the official one.

        Raises RuntimeError with what to do when neither works (no network, a
        broken archive): a student sees one message, not a urllib traceback.
        """
        if self._check_present():
            return
        local = os.environ.get(ARCHIVE_ENV)
        try:
            if local:
                extract_archive(local, self.root)
            elif check_integrity(os.path.join(self.root, FILENAME), MD5):
                extract_archive(os.path.join(self.root, FILENAME), self.root)
            else:
                download_and_extract_archive(URL, self.root, filename=FILENAME, md5=MD5)
        except (OSError, EOFError, RuntimeError, ValueError, tarfile.TarError) as err:
            where = ('the archive %s=%s' % (ARCHIVE_ENV, local) if local else
                     'the download of %s' % URL)
            raise RuntimeError(
                'could not get CIFAR-10 from %s (%s: %s). Download %s by other means and '
                'run again with %s=/path/to/%s, or link Part 1\'s copy into %s (SETUP.md, '
                'step 3)' % (where, type(err).__name__, err, FILENAME, ARCHIVE_ENV, FILENAME,
                             self.root)) from None
