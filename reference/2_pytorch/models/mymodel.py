import torch.nn as nn


# BEGIN SOLUTION
def conv_bn(in_channels, out_channels, kernel_size=3, pool=False):
    '''
    A same-size convolution, optionally a 2x2 max pool, then batch
    normalization and ReLU. Pooling before the normalization means the
    normalization and the activation only touch a quarter of the values.
    '''
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size,
                        padding=kernel_size // 2, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ConvGroup(nn.Module):
    '''Widen and halve the resolution, then refine with a residual convolution.'''

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.widen = conv_bn(in_channels, out_channels, pool=True)
        self.refine = conv_bn(out_channels, out_channels)

    def forward(self, x):
        x = self.widen(x)
        return x + self.refine(x)
# END SOLUTION


class MyModel(nn.Module):
    def __init__(self, im_size, hidden_dim, kernel_size, n_classes):
        # BEGIN SOLUTION
        # STUB: '''
        # STUB: Extra credit model
        # STUB:
        # STUB: Arguments:
        # STUB:     im_size (tuple): A tuple of ints with (channels, height, width)
        # STUB:     hidden_dim (int): Number of hidden activations to use
        # STUB:     kernel_size (int): Width and height of (square) convolution filters
        # STUB:     n_classes (int): Number of classes to score
        # STUB: '''
        '''
        A small residual convnet: a stem convolution with kernel_size filters,
        three groups of widths 2, 4 and 8 times hidden_dim that each halve the
        resolution, global max pooling and a linear classifier whose scores
        are scaled down by 8 (large initial scores make high learning rates
        unstable).

        Arguments:
            im_size (tuple): A tuple of ints with (channels, height, width)
            hidden_dim (int): Number of channels of the stem convolution
            kernel_size (int): Width and height of the stem's filters
            n_classes (int): Number of classes to score
        '''
        # END SOLUTION
        super().__init__()
        # BEGIN SOLUTION: MyModel.__init__: create the layers of your model (anything you like)
        w = hidden_dim
        self.stem = conv_bn(im_size[0], w, kernel_size)
        self.groups = nn.Sequential(
            ConvGroup(w, 2 * w),
            ConvGroup(2 * w, 4 * w),
            ConvGroup(4 * w, 8 * w),
        )
        self.classifier = nn.Linear(8 * w, n_classes, bias=False)
        self.score_scale = 1 / 8
        # END SOLUTION

    def forward(self, images):
        '''
        Take a batch of images and run them through the model to
        produce a score for each class.

        Arguments:
            images (Tensor): A tensor of size (N, C, H, W) where
                N is the batch size
                C is the number of channels
                H is the image height
                W is the image width

        Returns:
            A torch Tensor of size (N, n_classes) specifying the score
            for each example and category.
        '''
        # BEGIN SOLUTION: MyModel.forward: compute the class scores (N, n_classes) of the images
        features = self.groups(self.stem(images))         # (N, 8*hidden_dim, H/8, W/8)
        return self.score_scale * self.classifier(features.amax(dim=(2, 3)))
        # END SOLUTION
