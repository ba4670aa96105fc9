x1 = hsplit(I, 2, 0)
x2 = hsplit(I, 2, 1)
O = and(x1, x2, 2)
