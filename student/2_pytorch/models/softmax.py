import numpy as np
import torch.nn as nn


class Softmax(nn.Module):
    def __init__(self, im_size, n_classes):
        '''
        Create components of a softmax classifier and initialize their weights.

        Arguments:
            im_size (tuple): A tuple of ints with (channels, height, width)
            n_classes (int): Number of classes to score
        '''
        super().__init__()
        # TODO: Softmax.__init__: create the layers of the softmax classifier (one linear map from the flattened image to n_classes scores)
        raise NotImplementedError('Softmax.__init__: create the layers of the softmax classifier (one linear map from the flattened image to n_classes scores)')

    def forward(self, images):
        '''
        Take a batch of images and run them through the classifier to
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
        # TODO: Softmax.forward: compute the class scores (N, n_classes) of the images
        raise NotImplementedError('Softmax.forward: compute the class scores (N, n_classes) of the images')
