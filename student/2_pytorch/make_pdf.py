"""Collect the saved plots into 2_pytorch.pdf, one titled page per plot."""
import argparse
import glob
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

MODELS = ['softmax', 'twolayernn', 'convnet', 'mymodel']
PLOTS = ['lossvstrain', 'valaccuracy', 'gridfilt']

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--output', default='2_pytorch.pdf', help='the PDF to write')
args = parser.parse_args()

# The expected plots first, in the homework's order, then any other PNG in the folder.
expected = ['{}_{}.png'.format(m, p) for m in MODELS for p in PLOTS]
pngs = [f for f in expected if os.path.exists(f)]
pngs += sorted(set(glob.glob('*.png')) - set(pngs))

with PdfPages(args.output) as pdf:
    for png in pngs:
        fig = plt.figure(figsize=(8.5, 11))
        fig.suptitle(png, fontsize=14)
        ax = fig.add_axes([0.05, 0.05, 0.9, 0.85])
        ax.imshow(plt.imread(png))
        ax.axis('off')
        pdf.savefig(fig)
        plt.close(fig)
print('wrote {} plots to {}'.format(len(pngs), args.output))
