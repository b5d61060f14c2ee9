"""Download CIFAR-10 (python version) and unpack it next to this script as cifar-10-batches-py/.

    python get_datasets.py          # any OS; ./get_datasets.sh runs this too

With HW1_CIFAR10_ARCHIVE=/path/to/cifar-10-python.tar.gz set, that local copy is unpacked instead
(no download and no md5 check: it is your own file). HW1_CIFAR10_URL names a mirror of the official
archive (its md5 is still checked). Everything happens in a scratch folder, so a failed run leaves
nothing half done behind. Exit status 0 when the data is there, 1 with one line saying why not.
"""
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request

URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
MD5 = 'c58f30108f718f92721af3b95e74349a'
ARCHIVE = 'cifar-10-python.tar.gz'
FOLDER = 'cifar-10-batches-py'
FILES = ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch', 'batches.meta']


def die(message):
    print('get_datasets: ' + message, file=sys.stderr)
    sys.exit(1)


def md5_of(path):
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def download(url, path):
    """Fetch url into path, printing progress every 10%."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(path, 'wb') as out:
            total = int(response.headers.get('Content-Length') or 0)
            done, shown = 0, -1
            for block in iter(lambda: response.read(1 << 20), b''):
                out.write(block)
                done += len(block)
                if total and done * 10 // total > shown:
                    shown = done * 10 // total
                    print('downloaded {}%'.format(shown * 10), flush=True)
    except (OSError, ValueError) as err:
        die('could not download {} ({}). Download {} another way (a browser) and run again with '
            'HW1_CIFAR10_ARCHIVE=/path/to/{}'.format(url, err, ARCHIVE, ARCHIVE))


def unpack(archive, scratch):
    """Extract the archive's regular files and folders into scratch; nothing outside it."""
    try:
        with tarfile.open(archive, 'r:gz') as tar:
            members = [m for m in tar.getmembers() if (m.isfile() or m.isdir())
                       and not os.path.isabs(m.name) and '..' not in m.name.split('/')]
            tar.extractall(scratch, members=members)
    except (OSError, EOFError, tarfile.TarError) as err:
        die('could not unpack {} (truncated or corrupt?): {}'.format(archive, err))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.environ.get('HW1_CIFAR10_ARCHIVE', '')
    if local:
        local = os.path.abspath(local)  # relative to where the script was started
    if os.path.exists(os.path.join(here, FOLDER)):
        print('{} is already here; remove it to fetch it again'.format(FOLDER))
        return 0
    scratch = tempfile.mkdtemp(prefix='.get_datasets.', dir=here)
    try:
        if local:
            if not os.path.isfile(local):
                die('HW1_CIFAR10_ARCHIVE={} is not a file'.format(local))
            archive = local
        else:
            url = os.environ.get('HW1_CIFAR10_URL') or URL
            archive = os.path.join(scratch, ARCHIVE)
            download(url, archive)
            digest = md5_of(archive)
            if digest != MD5:
                die('{} has md5 {}, expected {} (incomplete or altered download)'.format(ARCHIVE, digest, MD5))
        unpack(archive, scratch)
        for name in FILES:
            if not os.path.isfile(os.path.join(scratch, FOLDER, name)):
                die('{} has no {}/{}'.format(archive, FOLDER, name))
        os.rename(os.path.join(scratch, FOLDER), os.path.join(here, FOLDER))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print('CIFAR-10 is in {}'.format(os.path.join(here, FOLDER)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
