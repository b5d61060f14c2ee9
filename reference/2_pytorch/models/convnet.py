import torch.nn as nn


# BEGIN SOLUTION
def conv_block(in_channels, out_channels, kernel_size):
    '''A same-size convolution, batch normalization, ReLU, then 2x2 max pooling.'''
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )
# END SOLUTION


class CNN(nn.Module):
    def __init__(self, im_size, hidden_dim, kernel_size, n_classes):
        # BEGIN SOLUTION
        # STUB: '''
        # STUB: Create components of a CNN classifier and initialize their weights.
        # STUB:
        # STUB: Arguments:
        # STUB:     im_size (tuple): A tuple of ints with (channels, height, width)
        # STUB:     hidden_dim (int): Number of hidden activations to use
        # STUB:     kernel_size (int): Width and height of (square) convolution filters
        # STUB:     n_classes (int): Number of classes to score
        # STUB: '''
        '''
        Create components of a CNN classifier and initialize their weights.

        Three conv blocks with hidden_dim, 2*hidden_dim and 4*hidden_dim
        channels halve the image three times; a linear layer scores the
        globally averaged features.

        Arguments:
            im_size (tuple): A tuple of ints with (channels, height, width)
            hidden_dim (int): Number of channels of the first convolution
            kernel_size (int): Width and height of (square) convolution filters
            n_classes (int): Number of classes to score
        '''
        # END SOLUTION
        super().__init__()
        # BEGIN SOLUTION: CNN.__init__: create the layers of the convolutional network (any architecture)
        channels = im_size[0]
        self.features = nn.Sequential(
            conv_block(channels, hidden_dim, kernel_size),
            conv_block(hidden_dim, 2 * hidden_dim, 3),
            conv_block(2 * hidden_dim, 4 * hidden_dim, 3),
        )
        self.classifier = nn.Linear(4 * hidden_dim, n_classes)
        # END SOLUTION

    def forward(self, images):
        '''
        Take a batch of images and run them through the CNN to
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
        # BEGIN SOLUTION: CNN.forward: compute the class scores (N, n_classes) of the images
        features = self.features(images)                  # (N, 4*hidden_dim, H/8, W/8)
        return self.classifier(features.mean(dim=(2, 3)))
        # END SOLUTION
