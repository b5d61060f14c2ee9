#!/bin/sh
# BEGIN SOLUTION
# STUB: #############################################################################
# STUB: # TODO: Modify the hyperparameters such as hidden layer dimensionality,
# STUB: #       number of epochs, weight decay factor, momentum, batch size, learning
# STUB: #       rate mentioned here to achieve good performance
# STUB: #############################################################################
# STUB: python -u train.py \
# STUB:     --model mymodel \
# STUB:     --kernel-size 1 \
# STUB:     --hidden-dim 10 \
# STUB:     --epochs 1 \
# STUB:     --weight-decay 0.0 \
# STUB:     --momentum 0.0 \
# STUB:     --batch-size 512 \
# STUB:     --lr 0.01 \
# STUB:     --log mymodel.log
#############################################################################
# MyModel: a residual BN-ReLU convnet (16-32-64-128 channels, 0.29M weights);
# the recipe and the experiments behind it are in extra.md.
#   --bf16          bfloat16 autocast (about twice as fast on a recent CPU)
#   --augment       random flips and translations of up to 4 pixels
#   --schedule      one cycle: warm up to --lr for 30% of the steps, then anneal
#   --flip-tta      the test line averages each image with its mirror image
#############################################################################
python -u train.py \
    --model mymodel \
    --hidden-dim 16 \
    --kernel-size 3 \
    --epochs 24 \
    --batch-size 512 \
    --lr 0.4 \
    --momentum 0.9 \
    --weight-decay 5e-4 \
    --label-smoothing 0.2 \
    --schedule onecycle \
    --augment \
    --bf16 \
    --flip-tta \
    --log-interval 20 \
    --log mymodel.log
# END SOLUTION
