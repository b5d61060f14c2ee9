#!/bin/sh
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
    --log-interval 20 | tee softmax.log
