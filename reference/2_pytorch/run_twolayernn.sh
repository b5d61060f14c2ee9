#!/bin/sh
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
    --log-interval 20 | tee twolayernn.log
