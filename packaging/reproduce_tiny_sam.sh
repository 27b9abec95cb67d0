#!/bin/sh
# Reproduce the shipped tiny SAM from random weights, every stage in order, on the CPU.
#
#   sh packaging/reproduce_tiny_sam.sh [FOLDER]      (default runs/reproduce; THREADS=2 to use 2 threads)
#
# Each stage writes into FOLDER and is skipped when its result is already there; stages 6 and 8-15
# are resumable run folders, so rerunning the same command after an interruption continues where
# it stopped. Run times are for one thread of a 2-core CPU (README, "How it is trained").
# The result is FOLDER/tiny_sam.pth; compare it with packaging/evaluate_tiny_sam.py --checkpoint.
# Floating-point results differ in their last bits between CPUs and thread counts, so a rerun
# lands near the shipped figures, not on its exact weights.
set -e
cd "$(dirname "$0")/.."
OUT=${1:-runs/reproduce}
THREADS=${THREADS:-1}
PYTHON=${PYTHON:-python}
# step counts: the shipped model's; a test sets them to 1 to run the whole chain in seconds
S1=${S1:-3000} S2=${S2:-3600} S3=${S3:-3600} S3_STOP=${S3_STOP:-3250} S4=${S4:-3600} S5=${S5:-600}
S6=${S6:-20000} S6_STOP=${S6_STOP:-4800} S8=${S8:-3000} S9=${S9:-2000} S10=${S10:-3600} S11=${S11:-4400} S12=${S12:-4400} S13=${S13:-4400} S14=${S14:-4400} S15=${S15:-1200}
BATCH=${BATCH:-4}  # images per step (stages 1-14: 4, stage 15: twice BATCH); the test sets 1
TRAIN="$PYTHON packaging/train_tiny_sam.py --threads $THREADS --batch-size $BATCH"
mkdir -p "$OUT"

# stages 1-3: encoder and decoder from random weights on demo-generator scenes (~5 h), with the
# first trainer's choices: PE scale 4, no aligned attention start
OLD="--pe-scale 4 --align-gain 0"
[ -f "$OUT/stage1.pth" ] || $TRAIN --steps $S1 --save-every 25 --seed 0 $OLD --out "$OUT/stage1.pth"
[ -f "$OUT/stage2.pth" ] || $TRAIN --steps $S2 --lr 3e-4 --warmup 50 --save-every 50 --seed 1 $OLD \
    --init "$OUT/stage1.pth" --out "$OUT/stage2.pth"
[ -f "$OUT/stage3.pth" ] || $TRAIN --steps $S3 --stop-after $S3_STOP --lr 3e-4 --warmup 50 --save-every 50 --seed 2 $OLD \
    --init "$OUT/stage2.pth" --out "$OUT/stage3.pth"
# stage 4: stage 3's encoder, a fresh prompt encoder and decoder with the aligned start (~3 h)
[ -f "$OUT/stage4.pth" ] || $TRAIN --prompts-per-image 4 --steps $S4 --lr 1e-3 --warmup 100 --save-every 50 \
    --seed 3 --init-encoder "$OUT/stage3.pth" --out "$OUT/stage4.pth"
# stage 5: all three multimask outputs trained too (~30 min)
[ -f "$OUT/stage5.pth" ] || $TRAIN --prompts-per-image 4 --steps $S5 --lr 2e-4 --warmup 20 --save-every 50 \
    --seed 4 --all-outputs-weight 0.5 --init "$OUT/stage4.pth" --out "$OUT/stage5.pth"
# stages 6 and 8-15 share these: varied scenes (12-15 pass --scenes varied_thin after them, which
# overrides it), up to 4 clicks per prompt set (1-3 corrective, a quarter of them at a random pixel of
# the error), all three outputs trained, weight average, resumable run folders
VARIED="--prompts-per-image 4 --scenes varied --max-clicks 4 --random-click-share 0.25 --all-outputs-weight 0.5 --ema 0.998 --save-every 200"
# stage 6: varied scenes, up to 4 clicks (1-3 corrective, harder), weight average; 4,800 steps of a
# 20,000-step schedule (~2 h)
$TRAIN $VARIED --steps $S6 --stop-after $S6_STOP --lr 3e-4 --warmup 100 --seed 10 \
    --init "$OUT/stage5.pth" --out "$OUT/stage6"
# stage 7: the encoder grown (wider, two more dilated blocks, stride-2/4 detail) with its output unchanged
[ -f "$OUT/stage7.pth" ] || $PYTHON packaging/grow_tiny_sam.py "$OUT/stage6/model.pth" --widths 32 64 160 \
    --stage3-blocks 5 --detail --out "$OUT/stage7.pth"
# stage 8: the grown model trained on (~1 h 45 min)
$TRAIN $VARIED --steps $S8 --lr 2e-4 --warmup 100 --seed 11 \
    --init "$OUT/stage7.pth" --out "$OUT/stage8"
# stages 9-15 train on at a lower rate with the auxiliary grouping loss on the embedding
GROUPING="--lr 1.5e-4 --warmup 50 --grouping-weight 0.5"
# stage 9: the first of them (~1 h 20 min)
$TRAIN $VARIED $GROUPING --steps $S9 --seed 13 \
    --init "$OUT/stage8/model.pth" --out "$OUT/stage9"
# stage 10: stage 9's recipe again, longer, from its weights and another seed (73 min on 2 threads)
$TRAIN $VARIED $GROUPING --steps $S10 --seed 14 \
    --init "$OUT/stage9/model.pth" --out "$OUT/stage10"
# stage 11: the same recipe once more, from stage 10, another seed (1 h 36 min on 2 threads)
$TRAIN $VARIED $GROUPING --steps $S11 --seed 15 \
    --init "$OUT/stage10/model.pth" --out "$OUT/stage11"
# stage 12: the same recipe from stage 11 with thin strokes and outlines among the shapes (1 h 37 min on 2 threads)
$TRAIN $VARIED $GROUPING --scenes varied_thin --steps $S12 --seed 16 \
    --init "$OUT/stage11/model.pth" --out "$OUT/stage12"
# stage 13: stage 12's recipe again, from its weights and another seed (1 h 38 min on 2 threads)
$TRAIN $VARIED $GROUPING --scenes varied_thin --steps $S13 --seed 17 \
    --init "$OUT/stage12/model.pth" --out "$OUT/stage13"
# stage 14: the same again, from stage 13 and another seed (about 1 h 35 min on 2 threads)
$TRAIN $VARIED $GROUPING --scenes varied_thin --steps $S14 --seed 18 \
    --init "$OUT/stage13/model.pth" --out "$OUT/stage14"
# stage 15: stage 14's recipe with twice the images per step and half the prompt sets per image (the
# encoder sees more scenes for the same decoder work), under bfloat16 autocast (45 min on 2 threads)
$TRAIN $VARIED $GROUPING --scenes varied_thin --batch-size $((BATCH * 2)) --prompts-per-image 2 --precision bf16 \
    --steps $S15 --seed 21 --init "$OUT/stage14/model.pth" --out "$OUT/stage15"
cp "$OUT/stage15/model.pth" "$OUT/tiny_sam.pth"
echo "done: $OUT/tiny_sam.pth"
