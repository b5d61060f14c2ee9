"""Train one of the CIFAR-10 models, log its progress, and save it as <model>.pt.

    python -u train.py --model softmax --epochs 1 --lr 0.01 --log softmax.log

With --log FILE everything printed, and the error if training fails, also goes to FILE, and the
exit status is non-zero on failure: the run_<model>.sh scripts rely on both.
"""
import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms as transforms

import models
from cifar10 import CIFAR10

# Training settings
parser = argparse.ArgumentParser(description='CIFAR-10 Example')
parser.add_argument('--lr', type=float, default=0.01, metavar='LR',
                    help='learning rate (default: 0.01)')
parser.add_argument('--momentum', type=float, default=0.0, metavar='M',
                    help='SGD momentum (default: 0.0)')
parser.add_argument('--weight-decay', type=float, default=0.0,
                    help='Weight decay hyperparameter (default: 0.0)')
parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                    help='input batch size for training (default: 64)')
parser.add_argument('--epochs', type=int, default=1, metavar='N',
                    help='number of epochs to train (default: 1)')
parser.add_argument('--model', required=True,
                    choices=['softmax', 'convnet', 'twolayernn', 'mymodel'],
                    help='which model to train/evaluate')
parser.add_argument('--hidden-dim', type=int, default=100,
                    help='number of hidden features/activations (default: 100)')
parser.add_argument('--kernel-size', type=int, default=3,
                    help='size of convolution kernels/filters (default: 3)')
parser.add_argument('--no-cuda', action='store_true', default=False,
                    help='disables CUDA training')
parser.add_argument('--seed', type=int, default=1, metavar='S',
                    help='random seed (default: 1)')
parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                    help='input batch size for testing (default: 1000)')
parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                    help='number of batches between logging train status')
parser.add_argument('--cifar10-dir', default='data',
                    help='directory that contains cifar-10-batches-py/ '
                         '(downloaded automatically if necessary)')
parser.add_argument('--log', metavar='FILE',
                    help='also write everything printed, and the error if training '
                         'fails, to FILE (the run_*.sh scripts pass <model>.log)')
args = parser.parse_args()


class Tee:
    '''
    A stream that writes to the terminal and to the log file at once, so
    the log also holds the traceback when training fails.
    '''

    def __init__(self, terminal, log_file):
        self.terminal = terminal
        self.log_file = log_file

    def write(self, text):
        self.terminal.write(text)
        self.log_file.write(text)
        self.log_file.flush()
        return len(text)

    def flush(self):
        self.terminal.flush()
        self.log_file.flush()


if args.log:
    log_file = open(args.log, 'w')
    sys.stdout = Tee(sys.stdout, log_file)
    sys.stderr = Tee(sys.stderr, log_file)
args.cuda = not args.no_cuda and torch.cuda.is_available()
device = torch.device('cuda' if args.cuda else 'cpu')

torch.manual_seed(args.seed)
np.random.seed(args.seed)

# Load CIFAR10 using torch data paradigm
kwargs = {'num_workers': 1, 'pin_memory': True} if args.cuda else {}
# CIFAR10 meta data
n_classes = 10
im_size = (3, 32, 32)
# Subtract the mean color and divide by the standard deviation
cifar10_mean_color = [0.49131522, 0.48209435, 0.44646862]
cifar10_std_color = [0.01897398, 0.03039277, 0.03872553]
normalize = transforms.Normalize(cifar10_mean_color, cifar10_std_color)
transform = transforms.Compose([transforms.ToTensor(), normalize])
# Datasets (a missing data set ends training with one line saying what to do)
try:
    train_dataset = CIFAR10(args.cifar10_dir, split='train', download=True,
                            transform=transform)
    val_dataset = CIFAR10(args.cifar10_dir, split='val', download=True,
                          transform=transform)
    test_dataset = CIFAR10(args.cifar10_dir, split='test', download=True,
                           transform=transform)
except RuntimeError as err:
    sys.exit('train.py: {}'.format(err))


def preload(dataset):
    '''Apply a dataset's transform once, so epochs only index tensors.'''
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.utils.data.TensorDataset(torch.stack(images), torch.tensor(labels))


train_dataset = preload(train_dataset)
val_dataset = preload(val_dataset)
test_dataset = preload(test_dataset)


# DataLoaders
train_loader = torch.utils.data.DataLoader(train_dataset,
                 batch_size=args.batch_size, shuffle=True, **kwargs)
val_loader = torch.utils.data.DataLoader(val_dataset,
                 batch_size=args.batch_size, shuffle=True, **kwargs)
test_loader = torch.utils.data.DataLoader(test_dataset,
                 batch_size=args.batch_size, shuffle=True, **kwargs)

# Load the model
if args.model == 'softmax':
    model = models.softmax.Softmax(im_size, n_classes)
elif args.model == 'twolayernn':
    model = models.twolayernn.TwoLayerNN(im_size, args.hidden_dim, n_classes)
elif args.model == 'convnet':
    model = models.convnet.CNN(im_size, args.hidden_dim, args.kernel_size, n_classes)
elif args.model == 'mymodel':
    model = models.mymodel.MyModel(im_size, args.hidden_dim, args.kernel_size, n_classes)
else:
    raise Exception('Unknown model {}'.format(args.model))
# cross-entropy loss function
criterion = F.cross_entropy
# Channels-last memory layout makes convolutions markedly faster on CPUs.
memory_format = torch.channels_last
model = model.to(device, memory_format=memory_format)


# TODO: train.py: create the optimizer (one line: a torch.optim optimizer of model.parameters() with args.lr, args.momentum and args.weight_decay)
raise NotImplementedError('train.py: create the optimizer (one line: a torch.optim optimizer of model.parameters() with args.lr, args.momentum and args.weight_decay)')


def train(epoch):
    '''
    Train the model for one epoch.
    '''
    # train loop
    for batch_idx, (images, targets) in enumerate(train_loader):
        # prepare data
        model.train()
        images, targets = images.to(device), targets.to(device)
        images = images.contiguous(memory_format=memory_format)

        # TODO: train.py: update the model's parameters on this batch (forward pass, training loss bound to `loss`, backward pass, optimizer step)
        raise NotImplementedError("train.py: update the model's parameters on this batch (forward pass, training loss bound to `loss`, backward pass, optimizer step)")

        if batch_idx % args.log_interval == 0:
            val_loss, val_acc = evaluate('val', n_batches=4)
            train_loss = loss.item()
            examples_this_epoch = batch_idx * len(images)
            epoch_progress = 100. * batch_idx / len(train_loader)
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\t'
                  'Train Loss: {:.6f}\tVal Loss: {:.6f}\tVal Acc: {}'.format(
                epoch, examples_this_epoch, len(train_loader.dataset),
                epoch_progress, train_loss, val_loss, val_acc))


@torch.no_grad()
def evaluate(split, verbose=False, n_batches=None):
    '''
    Compute loss on val or test data.
    '''
    model.eval()
    loss = 0
    correct = 0
    n_examples = 0
    if split == 'val':
        loader = val_loader
    elif split == 'test':
        loader = test_loader
    for batch_i, (images, targets) in enumerate(loader):
        images = images.to(device, memory_format=memory_format)
        targets = targets.to(device)
        output = model(images)
        loss += criterion(output, targets, reduction='sum').item()
        # predict the argmax of the log-probabilities
        pred = output.argmax(dim=1)
        correct += (pred == targets).sum().item()
        n_examples += pred.size(0)
        if n_batches and (batch_i >= n_batches):
            break

    loss /= n_examples
    acc = 100. * correct / n_examples
    if verbose:
        print('\n{} set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
            split, loss, correct, n_examples, acc))
    return loss, acc


# train the model one epoch at a time
for epoch in range(1, args.epochs + 1):
    train(epoch)
evaluate('test', verbose=True)

# Save the model (architecture and weights), and its weights alone (<model>_weights.pt):
# collect_submission packs mymodel_weights.pt, so that the graders can check that your
# predictions.csv comes from your MyModel
torch.save(model, args.model + '.pt')
torch.save(model.state_dict(), args.model + '_weights.pt')
