#!/bin/sh
# BEGIN SOLUTION
# STUB: #############################################################################
# STUB: # TODO: Modify the hyperparameters such as hidden layer dimensionality,
# STUB: #       number of epochs, weight decay factor, momentum, batch size, learning
# STUB: #       rate mentioned here to achieve good performance
# STUB: #############################################################################
# STUB: python -u train.py \
# STUB:     --model convnet \
# STUB:     --kernel-size 1 \
# STUB:     --hidden-dim 10 \
# STUB:     --epochs 1 \
# STUB:     --weight-decay 0.0 \
# STUB:     --momentum 0.0 \
# STUB:     --batch-size 512 \
# STUB:     --lr 0.01 \
# STUB:     --log convnet.log
#############################################################################
# Three conv-BN-ReLU-pool blocks (32, 64, 128 channels) and a linear layer.
#############################################################################
python -u train.py \
    --model convnet \
    --kernel-size 5 \
    --hidden-dim 32 \
    --epochs 2 \
    --weight-decay 5e-4 \
    --momentum 0.9 \
    --batch-size 128 \
    --lr 0.05 \
    --schedule onecycle \
    --log-interval 50 \
    --log convnet.log
# END SOLUTION
