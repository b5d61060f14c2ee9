import torch.nn as nn


class MyModel(nn.Module):
    def __init__(self, im_size, hidden_dim, kernel_size, n_classes):
        '''
        Extra credit model

        Arguments:
            im_size (tuple): A tuple of ints with (channels, height, width)
            hidden_dim (int): Number of hidden activations to use
            kernel_size (int): Width and height of (square) convolution filters
            n_classes (int): Number of classes to score
        '''
        super().__init__()
        # TODO: MyModel.__init__: create the layers of your model (anything you like)
        raise NotImplementedError('MyModel.__init__: create the layers of your model (anything you like)')

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
        # TODO: MyModel.forward: compute the class scores (N, n_classes) of the images
        raise NotImplementedError('MyModel.forward: compute the class scores (N, n_classes) of the images')
