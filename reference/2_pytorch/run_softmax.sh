#!/bin/sh
# BEGIN SOLUTION
# STUB: #############################################################################
# STUB: # TODO: Modify the hyperparameters such as hidden layer dimensionality,
# STUB: #       number of epochs, weight decay factor, momentum, batch size, learning
# STUB: #       rate mentioned here to achieve good performance
# STUB: #############################################################################
# STUB: python -u train.py \
# STUB:     --model softmax \
# STUB:     --epochs 1 \
# STUB:     --weight-decay 0.0 \
# STUB:     --momentum 0.0 \
# STUB:     --batch-size 512 \
# STUB:     --lr 0.01 \
# STUB:     --log softmax.log
#############################################################################
# Softmax classifier: one affine map of the normalized pixels.
# The inputs are scaled up about 10x by the normalization (see train.py), so
# the learning rate is small; a one-cycle schedule anneals it to the end.
#############################################################################
python -u train.py \
    --model softmax \
    --epochs 4 \
    --weight-decay 0.0 \
    --momentum 0.9 \
    --batch-size 128 \
    --lr 2e-4 \
    --schedule onecycle \
    --log-interval 20 \
    --log softmax.log
# END SOLUTION
