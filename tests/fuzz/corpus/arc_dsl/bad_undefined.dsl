O = replace(I, x9, 0)
