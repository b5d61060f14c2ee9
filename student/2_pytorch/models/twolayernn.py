import numpy as np
import torch.nn as nn


class TwoLayerNN(nn.Module):
    def __init__(self, im_size, hidden_dim, n_classes):
        '''
        Create components of a two layer neural net classifier (aka
        multi-layer perceptron) and initialize their weights.

        Arguments:
            im_size (tuple): A tuple of ints with (channels, height, width)
            hidden_dim (int): Number of hidden activations to use
            n_classes (int): Number of classes to score
        '''
        super().__init__()
        # TODO: TwoLayerNN.__init__: create the layers of the two-layer network (see the docstring)
        raise NotImplementedError('TwoLayerNN.__init__: create the layers of the two-layer network (see the docstring)')

    def forward(self, images):
        '''
        Take a batch of images and run them through the NN to
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
        # TODO: TwoLayerNN.forward: compute the class scores (N, n_classes) of the images
        raise NotImplementedError('TwoLayerNN.forward: compute the class scores (N, n_classes) of the images')
