#!/bin/bash
# Model selection grid: every run early-stops on the PIAF validation titles; nothing here sees test titles,
# XQuAD or our question set. Logs: runs/<tag>.txt, log_<tag>.json, W_<tag>.npy
cd "$(dirname "$0")"; OUT=${ADAPTER_OUT:-/tmp/adapter}; mkdir -p "$OUT/runs"
for target in passage sentence hybrid both; do
 for lam in 0.1 1 10; do
  for tau in fixed learn; do
   tag=${target}_l${lam}_${tau}
   extra=""; [ $tau = learn ] && extra="--learn_tau"
   python train.py --target $target --lam $lam --lr 2e-5 --epochs 15 --eval_every 10 $extra --tag $tag > "$OUT/runs/$tag.txt" 2>&1
   echo $tag $(tail -1 "$OUT/runs/$tag.txt")
  done
 done
done
