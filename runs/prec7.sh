#!/bin/bash
# Session 7 accuracy check for #19: the same held-out run in fp32 and bf16 (same seed, schedule), LinkNet and ENet.
cd /work/main
for S in 1 2; do
  for P in fp32 bf16; do
    .venv/bin/python /work/frozen/edgeseg_frozen.py train --model linknet --model-option base_width=32 \
      --data ../shared/camvid --split train,val --val-holdout 0006R0 --input-size 256x320 --batch-size 8 \
      --epochs 12 --loss combo --lr 2e-3 --schedule cosine --warmup-epochs 1 --seed $S --precision $P \
      --threads 2 --quiet --out runs/prec7-linknet-$P-s$S > runs/prec7-linknet-$P-s$S.log 2>&1
  done
done
for P in fp32 bf16; do
  .venv/bin/python /work/frozen/edgeseg_frozen.py train --model enet --model-option activation=relu \
    --data ../shared/camvid --split train,val --val-holdout 0006R0 --input-size 184x240 --batch-size 8 \
    --epochs 12 --loss combo --lr 2e-3 --schedule cosine --warmup-epochs 1 --seed 1 --precision $P \
    --threads 2 --quiet --out runs/prec7-enet-$P-s1 > runs/prec7-enet-$P-s1.log 2>&1
done
touch runs/prec7.done
