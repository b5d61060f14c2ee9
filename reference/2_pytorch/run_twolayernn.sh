#!/bin/sh
# BEGIN SOLUTION
# STUB: #############################################################################
# STUB: # TODO: Modify the hyperparameters such as hidden layer dimensionality,
# STUB: #       number of epochs, weight decay factor, momentum, batch size, learning
# STUB: #       rate mentioned here to achieve good performance
# STUB: #############################################################################
# STUB: python -u train.py \
# STUB:     --model twolayernn \
# STUB:     --hidden-dim 10 \
# STUB:     --epochs 1 \
# STUB:     --weight-decay 0.0 \
# STUB:     --momentum 0.0 \
# STUB:     --batch-size 512 \
# STUB:     --lr 0.01 \
# STUB:     --log twolayernn.log
#############################################################################
# Two-layer fully-connected network with 512 hidden units.
#############################################################################
python -u train.py \
    --model twolayernn \
    --hidden-dim 512 \
    --epochs 5 \
    --weight-decay 5e-4 \
    --momentum 0.9 \
    --batch-size 128 \
    --lr 2e-3 \
    --schedule onecycle \
    --log-interval 20 \
    --log twolayernn.log
# END SOLUTION
