O = crop(I, 1, 07)
