#!/bin/sh
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
    --log-interval 50 | tee convnet.log
