"""The suite's core: what every method and the evaluation share; it imports no method.

method       the `Method` interface (train step, translate, save/load) that every method implements;
             adam, frozen and eval_mode, the helpers the methods share
registry     method names -> Method classes (imported lazily); reading a dumped run config back
config       typed run configs, presets machinery, `--set` overrides and their checks
train        the one training loop: data order, resume, DDP, logging, samples, interruption
checkpoint   the one checkpoint format, written atomically, read with weights_only=True
distributed  torchrun + DistributedDataParallel (gloo on CPU, NCCL on GPUs)
lock         one writer per output folder
progress     progress bar and metrics log
runmeta      versions, device and threads written next to every result
schedules    learning-rate schedules
gan          WGAN-GP pieces: interpolates and the gradient penalty
warmup       supervised pre-training of a classifier on real images (EGGAN's C_id, StarGAN's critic head)
blocks       layers every method's networks are built from
vgg          VGG19 trunks: ImageNet weights found offline, or a loudly labelled random stand-in
interpolate  Eq. 8, the continuous edit between two AU vectors, for any AU-conditioned method
edit         editing a face with a trained run (`eggan-bench edit` and `interpolate`)
"""
