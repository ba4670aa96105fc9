O = flip_lr(I)
